"""Live events: sent to the right groups after commit, and never an error for the caller."""

from __future__ import annotations

import pytest

from inbox import live, services

pytestmark = pytest.mark.django_db


class RecordingLayer:
    """A channel layer that records what it was asked to send (or fails, like a dead Redis)."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.fail = fail

    async def group_send(self, group: str, message: dict) -> None:
        if self.fail:
            raise ConnectionError("redis is down")
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch):
    recording = RecordingLayer()
    monkeypatch.setattr(live, "_layer", lambda: recording)
    return recording


def test_it_publishes_after_commit_to_admins_queue_people_and_watchers(
    layer, tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        live.publish(
            tenant.pk, live.TICKET, {"x": 1}, queue_id=7, user_ids=[3, 3], conversation_id=9
        )
        assert layer.sent == []  # nothing before the commit

    groups = [g for g, _m in layer.sent]
    t = tenant.pk
    assert groups == [f"inbox.t{t}.all", f"inbox.t{t}.q7", f"inbox.t{t}.u3", f"inbox.t{t}.c9"]
    assert layer.sent[0][1] == {"type": "inbox.event", "kind": "ticket", "data": {"x": 1}}


def test_a_dead_layer_never_fails_the_caller(
    monkeypatch, conversation, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(live, "_layer", lambda: RecordingLayer(fail=True))

    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_open(conversation)

    assert ticket.pk is not None


def test_without_a_layer_nothing_happens(
    monkeypatch, conversation, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(live, "_layer", lambda: None)

    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_open(conversation)


def test_a_new_ticket_is_published_to_its_queue(
    layer, conversation, suporte, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_open(conversation, queue=suporte)

    events = {g: m for g, m in layer.sent}
    event = events[f"inbox.t{conversation.tenant_id}.q{suporte.pk}"]
    assert event["kind"] == "ticket"
    assert event["data"]["ticket"] == ticket.pk and event["data"]["status"] == "waiting"
