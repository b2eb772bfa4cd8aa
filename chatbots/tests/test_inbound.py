"""Storage, claiming, sweeping, replaying and status updates of inbound events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from chatbots import inbound
from chatbots.models import Chatbot, Conversation, InboundEvent, Message
from chatbots.wire import InboundMessage, InboundStatus
from tests.factories import ClienteFactory, TenantFactory

State = InboundEvent.State
MS = Message.Status
T0 = 1750000000


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, tz=UTC)


@pytest.fixture
def queued(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr("chatbots.inbound._dispatch", ids.append)
    return ids


@pytest.fixture
def bot(tenant):
    return Chatbot.objects.create(
        tenant=tenant, name="Padaria", provider="meta", phone_number_id="1065", app_secret="s"
    )


def message_item(external_id: str, *, provider: str = "meta", phone: str = "5511987654321"):
    return InboundMessage(
        provider=provider,
        external_id=external_id,
        bot_key="1065",
        timestamp=at(0),
        type="text",
        from_phone=phone,
        text="Oi",
    )


def store_message(bot, external_id: str) -> InboundEvent:
    [event_id] = inbound.store_events(events=[(bot, message_item(external_id), {})])
    return InboundEvent.objects.get(pk=event_id)


def store_status(bot, wamid: str, status: str, *, seconds: int = 0, **error) -> InboundEvent:
    item = InboundStatus(
        provider="meta",
        external_id=wamid,
        bot_key="1065",
        status=status,
        timestamp=at(seconds),
        recipient="5511987654321",
        **error,
    )
    [event_id] = inbound.store_events(events=[(bot, item, {})])
    return InboundEvent.objects.get(pk=event_id)


@pytest.fixture
def outbound_message(bot):
    cliente = ClienteFactory(tenant=bot.tenant, telefone="5511987654321")
    conversation = Conversation.objects.create(tenant=bot.tenant, chatbot=bot, cliente=cliente)
    return Message.objects.create(
        tenant=bot.tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        provider_message_id="wamid.OUT",
        text="Seu pedido saiu para entrega",
        status=MS.SENDING,
    )


def apply(bot, status: str, *, seconds: int = 0, **error) -> InboundEvent:
    event = store_status(bot, "wamid.OUT", status, seconds=seconds, **error)
    inbound.apply_status(inbound.claim(event.pk))
    event.refresh_from_db()
    return event


# --- store_events ----------------------------------------------------------------------------


def test_it_returns_only_newly_stored_ids(bot):
    first = inbound.store_events(events=[(bot, message_item("wamid.1"), {})])
    second = inbound.store_events(
        events=[(bot, message_item("wamid.1"), {}), (bot, message_item("wamid.2"), {})]
    )

    assert len(first) == 1
    assert len(second) == 1
    assert InboundEvent.objects.get(pk=second[0]).external_id == "wamid.2"


def test_it_stores_an_update_repeated_inside_one_batch_once(bot):
    ids = inbound.store_events(events=[(bot, message_item("wamid.1"), {})] * 3)

    assert len(ids) == 1
    assert InboundEvent.objects.count() == 1


def test_the_same_id_from_two_providers_is_two_events(bot):
    ids = inbound.store_events(
        events=[
            (bot, message_item("ABC123"), {}),
            (bot, message_item("ABC123", provider="evolution"), {}),
        ]
    )

    assert len(ids) == 2


def test_each_status_of_a_message_is_its_own_event(bot):
    for status in ("sent", "delivered", "read"):
        store_status(bot, "wamid.OUT", status)
    retry = InboundStatus(
        provider="meta",
        external_id="wamid.OUT",
        bot_key="1065",
        status="delivered",
        timestamp=at(0),
    )

    assert inbound.store_events(events=[(bot, retry, {})]) == []
    assert sorted(InboundEvent.objects.values_list("external_id", flat=True)) == [
        "wamid.OUT:delivered",
        "wamid.OUT:read",
        "wamid.OUT:sent",
    ]


def test_it_queues_new_events_only_after_commit(bot, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = inbound.store_events(events=[(bot, message_item("wamid.1"), {})])
        assert queued == []

    for callback in callbacks:
        callback()
    assert queued == ids


def test_the_processor_is_the_registered_dispatcher():
    from chatbots import processor

    assert inbound._dispatch is processor.dispatch


def test_queueing_without_a_dispatcher_fails_loudly(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setattr(inbound, "_dispatch", None)
    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS"):
        inbound.enqueue(event_ids=[1])


def test_a_registered_dispatcher_gets_each_id(monkeypatch):
    got: list[int] = []
    monkeypatch.setattr(inbound, "_dispatch", None)
    inbound.register_dispatcher(got.append)

    assert inbound.enqueue(event_ids=[3, 5]) == 2
    assert got == [3, 5]


# --- claim -----------------------------------------------------------------------------------


def test_only_one_claim_wins(bot):
    event = store_message(bot, "wamid.1")

    first = inbound.claim(event.pk)
    second = inbound.claim(event.pk)

    assert first is not None and first.chatbot == bot
    assert (first.state, first.attempts) == (State.PROCESSING, 1)
    assert second is None


@pytest.mark.parametrize("state", [State.DONE, State.FAILED, State.IGNORED])
def test_a_finished_event_cannot_be_claimed(bot, state):
    event = store_message(bot, "wamid.1")
    InboundEvent.objects.filter(pk=event.pk).update(state=state)

    assert inbound.claim(event.pk) is None


def test_claiming_a_missing_event_gives_none(db):
    assert inbound.claim(987654) is None


# --- sweep -----------------------------------------------------------------------------------


def _age(event: InboundEvent, **fields) -> None:
    InboundEvent.objects.filter(pk=event.pk).update(**fields)


def test_sweep_queues_pending_events_left_behind(bot, queued):
    old = store_message(bot, "wamid.old")
    fresh = store_message(bot, "wamid.fresh")
    _age(old, received_at=timezone.now() - timedelta(minutes=2))

    count = inbound.sweep()

    assert count == 1
    assert queued == [old.pk]
    assert InboundEvent.objects.get(pk=fresh.pk).state == State.PENDING


def test_sweep_recovers_events_whose_worker_died(bot, queued):
    stuck = store_message(bot, "wamid.stuck")
    busy = store_message(bot, "wamid.busy")
    long_ago = timezone.now() - timedelta(minutes=30)
    for event in (stuck, busy):
        inbound.claim(event.pk)
        _age(event, received_at=long_ago)
    _age(stuck, processed_at=timezone.now() - timedelta(minutes=11))

    count = inbound.sweep()

    assert count == 1
    assert queued == [stuck.pk]
    stuck.refresh_from_db()
    assert (stuck.state, stuck.attempts) == (State.PENDING, 1)
    assert InboundEvent.objects.get(pk=busy.pk).state == State.PROCESSING


def test_sweep_gives_up_on_an_event_that_keeps_killing_workers(bot, queued):
    poison = store_message(bot, "wamid.poison")
    inbound.claim(poison.pk)
    _age(
        poison,
        attempts=inbound.MAX_ATTEMPTS,
        received_at=timezone.now() - timedelta(hours=1),
        processed_at=timezone.now() - timedelta(minutes=11),
    )

    inbound.sweep()

    poison.refresh_from_db()
    assert poison.state == State.FAILED
    assert "worker lost" in poison.last_error
    assert queued == []


def test_sweep_works_in_bounded_batches(bot, queued, monkeypatch):
    monkeypatch.setattr(inbound, "SWEEP_BATCH", 2)
    events = [store_message(bot, f"wamid.{i}") for i in range(3)]
    for i, event in enumerate(events):
        _age(event, received_at=timezone.now() - timedelta(minutes=10 - i))

    assert inbound.sweep() == 2
    assert queued == [events[0].pk, events[1].pk]  # oldest first


def test_sweep_leaves_events_pending_when_the_broker_is_down(bot, monkeypatch):
    event = store_message(bot, "wamid.1")
    _age(event, received_at=timezone.now() - timedelta(minutes=5))

    def broker_down(event_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("chatbots.inbound._dispatch", broker_down)

    assert inbound.sweep() == 0
    assert InboundEvent.objects.get(pk=event.pk).state == State.PENDING


def test_the_sweep_task_runs_the_sweeper(bot, queued, celery_eager):
    from chatbots.tasks import sweep_inbound

    event = store_message(bot, "wamid.1")
    _age(event, received_at=timezone.now() - timedelta(minutes=5))

    assert sweep_inbound.delay().get() == 1
    assert queued == [event.pk]


# --- requeue ---------------------------------------------------------------------------------


def test_requeue_processes_finished_events_again(bot, queued, django_capture_on_commit_callbacks):
    failed, done, busy = (store_message(bot, f"wamid.{n}") for n in ("f", "d", "b"))
    _age(failed, state=State.FAILED, attempts=3, last_error="boom")
    _age(done, state=State.DONE, attempts=1)
    _age(busy, state=State.PROCESSING, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        count = inbound.requeue(event_ids=[failed.pk, done.pk, busy.pk])

    assert count == 2
    assert sorted(queued) == sorted([failed.pk, done.pk])
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (State.PENDING, 3)
    assert InboundEvent.objects.get(pk=busy.pk).state == State.PROCESSING


# --- apply_status ----------------------------------------------------------------------------


def test_statuses_move_a_message_forward(bot, outbound_message):
    for seconds, status in enumerate(("sent", "delivered", "read"), start=1):
        event = apply(bot, status, seconds=seconds)
        assert event.state == State.DONE

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.READ
    assert (outbound_message.sent_at, outbound_message.delivered_at, outbound_message.read_at) == (
        at(1),
        at(2),
        at(3),
    )


def test_read_without_delivered_implies_delivered(bot, outbound_message):
    apply(bot, "read", seconds=5)

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.READ
    assert outbound_message.delivered_at == at(5)
    assert outbound_message.read_at == at(5)


@pytest.mark.parametrize("late", ["delivered", "sent"])
def test_a_late_status_never_moves_a_read_message_back(bot, outbound_message, late):
    apply(bot, "read", seconds=5)

    event = apply(bot, late, seconds=9)

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.READ
    assert outbound_message.delivered_at == at(5)
    assert event.state == State.DONE


def test_a_late_sent_does_not_undo_delivered(bot, outbound_message):
    apply(bot, "delivered", seconds=2)
    apply(bot, "sent", seconds=1)

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.DELIVERED
    assert outbound_message.sent_at == at(2)


def test_played_counts_as_read(bot, outbound_message):
    apply(bot, "played", seconds=4)

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.READ


def test_failed_stores_metas_error(bot, outbound_message):
    apply(
        bot,
        "failed",
        seconds=3,
        error_code="131026",
        error_title="Message undeliverable",
        error_detail="Recipient is not a WhatsApp user",
    )

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.FAILED
    assert outbound_message.error_code == "131026"
    assert "Recipient is not a WhatsApp user" in outbound_message.error_detail
    assert outbound_message.failed_at == at(3)


def test_failed_after_delivery_is_ignored(bot, outbound_message):
    apply(bot, "delivered", seconds=2)
    apply(bot, "failed", seconds=3, error_code="131000")

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.DELIVERED
    assert outbound_message.error_code == ""


def test_a_later_delivery_proves_a_failure_wrong(bot, outbound_message):
    apply(bot, "failed", seconds=2, error_code="131049")
    apply(bot, "sent", seconds=3)
    assert Message.objects.get(pk=outbound_message.pk).status == MS.FAILED  # sent proves nothing

    apply(bot, "delivered", seconds=4)

    outbound_message.refresh_from_db()
    assert outbound_message.status == MS.DELIVERED
    assert outbound_message.error_code == "131049"  # what Meta said stays on record


def test_a_status_for_a_message_we_do_not_have_is_ignored(bot):
    event = apply(bot, "delivered")

    assert event.state == State.IGNORED


def test_a_status_never_touches_another_tenants_message(bot, outbound_message):
    other_tenant = TenantFactory(slug="outra")
    other_bot = Chatbot.objects.create(
        tenant=other_tenant, name="Outra", provider="meta", phone_number_id="2000"
    )
    event = store_status(other_bot, "wamid.OUT", "read")

    inbound.apply_status(inbound.claim(event.pk))

    event.refresh_from_db()
    assert event.state == State.IGNORED
    assert Message.objects.get(pk=outbound_message.pk).status == MS.SENDING


def test_an_untracked_status_is_ignored(bot, outbound_message):
    event = apply(bot, "deleted")

    assert event.state == State.IGNORED
    assert Message.objects.get(pk=outbound_message.pk).status == MS.SENDING
