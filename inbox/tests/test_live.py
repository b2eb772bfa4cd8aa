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
    first = layer.sent[0][1]
    assert {k: v for k, v in first.items() if k != "id"} == {
        "type": "inbox.event",
        "kind": "ticket",
        "data": {"x": 1},
    }
    # One id for every group's copy: a socket in several groups shows the event once.
    assert first["id"] and {m["id"] for _g, m in layer.sent} == {first["id"]}


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


def _events(layer, kind):
    return [m["data"] for g, m in layer.sent if m["kind"] == kind and g.endswith(".all")]


def test_customer_and_staff_messages_of_a_ticket_are_published(
    layer, waiting, agent, suporte, run_commits
):
    layer.sent.clear()
    waiting.text("ainda estou aqui")

    (inbound,) = _events(layer, "message")
    assert inbound["direction"] == "in" and inbound["sender"] == "customer"
    assert inbound["text"] == "ainda estou aqui" and inbound["queue"] == suporte.pk
    assert inbound["message"] is not None
    groups = {g for g, m in layer.sent if m["kind"] == "message"}
    t = waiting.conversation.tenant_id
    assert groups == {
        f"inbox.t{t}.all",
        f"inbox.t{t}.q{suporte.pk}",
        f"inbox.t{t}.c{waiting.conversation.pk}",
    }

    layer.sent.clear()
    run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Oi!"))

    (outbound,) = _events(layer, "message")
    assert outbound["direction"] == "out" and outbound["sender"] == "staff"
    assert outbound["author"] == agent.pk
    assert any(e["status"] == "open" for e in _events(layer, "ticket"))


def test_a_status_from_the_provider_is_published(layer, waiting, agent, run_commits):
    import time

    from tests import meta

    layer.sent.clear()
    row = run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Oi!"))
    row.refresh_from_db()
    # The send task's own "sent", once the Graph API accepted it.
    assert [(e["message"], e["status"]) for e in _events(layer, "status")] == [(row.pk, "sent")]
    layer.sent.clear()

    status = {
        "id": row.provider_message_id,
        "status": "delivered",
        "timestamp": str(int(time.time())),
        "recipient_id": waiting.phone,
    }
    waiting.post(meta.envelope(waiting.bot.phone_number_id, statuses=[status]))

    (status,) = _events(layer, "status")
    assert status == {
        "message": row.pk,
        "conversation": waiting.conversation.pk,
        "status": "delivered",
        "error": "",
    }


def test_a_conversation_with_the_bot_publishes_nothing(layer, chat_with, bot):
    chat = chat_with(bot)

    chat.text("oi")

    assert [m["kind"] for _g, m in layer.sent] == []


def test_a_failed_send_is_published_with_its_reason(layer, waiting, agent, fake_graph, run_commits):
    fake_graph.fail_next(code=131026)  # "Message undeliverable": permanent
    layer.sent.clear()

    row = run_commits(lambda: services.staff_reply(waiting.conversation, agent, text="Oi!"))

    (failed,) = _events(layer, "status")
    assert failed["message"] == row.pk and failed["status"] == "failed"
    assert failed["error"]


def test_presence_reaches_the_colleagues_of_the_queue(
    layer, tenant, agent, suporte, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.presence_set(agent, tenant, "online")

    groups = {g for g, m in layer.sent if m["kind"] == "presence"}
    t = tenant.pk
    assert groups == {f"inbox.t{t}.all", f"inbox.t{t}.q{suporte.pk}", f"inbox.t{t}.u{agent.pk}"}


def test_events_published_by_a_forked_worker_reach_a_listening_socket():
    """Celery's prefork children publish too: each forked process gets its own publisher
    loop (a thread does not survive a fork) and its events still reach a socket."""
    import asyncio
    import os

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None, "the tests run with a real channel layer"
    group = f"inbox.fork-test.{os.getpid()}"

    def publish(n: int) -> None:
        live._send([group], {"type": live.EVENT_TYPE, "kind": "message", "data": {"n": n}})

    def publish_here_then_in_a_child() -> None:
        publish(1)
        pid = os.fork()
        if pid == 0:  # the child: publish once and leave without pytest's teardown
            try:
                publish(2)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)

    async def listen() -> list[int]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await asyncio.get_running_loop().run_in_executor(None, publish_here_then_in_a_child)
        got = [(await asyncio.wait_for(layer.receive(channel), 5))["data"]["n"] for _ in "ab"]
        await layer.group_discard(group, channel)
        return got

    assert sorted(async_to_sync(listen)()) == [1, 2]


def test_an_assignment_reaches_the_person_and_a_transfer_the_queue_it_left(
    layer, waiting, owner, other_agent, suporte, financeiro, run_commits
):
    t = waiting.conversation.tenant_id
    layer.sent.clear()

    run_commits(lambda: services.ticket_assign(waiting.ticket, owner, user=other_agent))

    (to_her,) = [m for g, m in layer.sent if g == f"inbox.t{t}.u{other_agent.pk}"]
    assert to_her["kind"] == "ticket"
    assert to_her["data"]["assigned_to"] == other_agent.pk and to_her["data"]["status"] == "open"

    layer.sent.clear()
    run_commits(lambda: services.ticket_assign(waiting.ticket, owner, queue=financeiro))

    tickets = {g: m["data"] for g, m in layer.sent if m["kind"] == "ticket"}
    assert tickets[f"inbox.t{t}.q{suporte.pk}"]["queue"] == financeiro.pk  # gone from Suporte
    assert tickets[f"inbox.t{t}.q{financeiro.pk}"]["status"] == "waiting"
