"""The processor (chatbots.processor): batches of pending inbound events, in each customer's
order with several consumers, one bad message never taking its batch down, a consumer
killed mid-batch losing and repeating nothing, and a bounded number of statements."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import metering
from chatbots import engine, processor
from chatbots.handlers import generic
from chatbots.models import Conversation, InboundEvent, Message
from clientes.models import Cliente
from tests.concurrency import run_at_once
from tests.factories import ChatbotFactory, InboundEventFactory

State = InboundEvent.State
T0 = 1_700_000_000
GREETING = "Como posso ajudar"


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(tenant=tenant, provider="stub", flow="menu")


def phone(n: int) -> str:
    return f"55119{n:08d}"


def store(bot, text: str, sender: str, *, second: int = 0) -> InboundEvent:
    return InboundEventFactory(
        chatbot=bot,
        text=text,
        sender=sender,
        occurred_at=datetime.fromtimestamp(T0 + second, UTC),
    )


def said_to(bot, sender: str) -> list[str]:
    return list(
        Message.objects.filter(
            conversation__chatbot=bot, conversation__cliente__telefone=sender, direction="out"
        )
        .order_by("id")
        .values_list("text", flat=True)
    )


def drain_until_idle(batch: int) -> None:
    """One consumer: batches until three in a row find nothing (the other one may hold
    the contact for a moment)."""
    idle = 0
    while idle < 3:
        result = processor.drain(batch=batch)
        idle = 0 if result.worked else idle + 1
        if not result.worked:
            time.sleep(0.05)


# --- Order ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_consumers_answer_one_customers_burst_in_order(tenant, monkeypatch):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu", options={"debounce_ms": 0})
    maria, joao = phone(1), phone(2)
    said = ["oi", "1", "menu", "1", "menu", "1", "menu", "1"]
    for i, text in enumerate(said):
        store(bot, text, maria, second=i)
        store(bot, text, joao, second=i)
    # Slow turns, so that both consumers are busy at once and race for the same customer.
    original = generic.MenuHandler.enter

    def slow_enter(self, ctx):
        time.sleep(0.05)
        return original(self, ctx)

    monkeypatch.setattr(generic.MenuHandler, "enter", slow_enter)

    run_at_once([lambda: drain_until_idle(1), lambda: drain_until_idle(1)])

    for sender in (maria, joao):
        conversation = Conversation.objects.get(cliente__telefone=sender)
        rows = list(conversation.messages.order_by("id").values_list("direction", "text"))
        assert [text for direction, text in rows if direction == "in"] == said
        # Each message answered before the next one was taken: in, out…, in, out…
        directions = "".join("i" if d == "in" else "o" for d, _t in rows)
        assert directions.replace("o", "").count("i") == len(said)
        assert "ii" not in directions and directions.endswith("o")
    assert set(InboundEvent.objects.values_list("state", "attempts")) == {(State.DONE, 1)}


# --- Failure isolation --------------------------------------------------------------------------


def test_a_raising_handler_in_a_batch_of_50_leaves_49_replies_and_one_apology(
    bot, monkeypatch, django_capture_on_commit_callbacks
):
    unlucky = phone(17)
    events = [store(bot, "oi", phone(n)) for n in range(50)]
    original = generic.MenuHandler.enter

    def enter(self, ctx):
        if ctx.cliente.telefone == unlucky:
            raise ValueError("estoque indisponível")
        return original(self, ctx)

    monkeypatch.setattr(generic.MenuHandler, "enter", enter)

    with django_capture_on_commit_callbacks(execute=True):
        result = processor.drain(batch=50)

    assert result.turns == 50
    for n in range(50):
        said = said_to(bot, phone(n))
        if phone(n) == unlucky:
            assert said == [engine.DEFAULT_APOLOGY]
        else:
            assert len(said) == 1 and GREETING in said[0]
    states = dict(InboundEvent.objects.values_list("pk", "state"))
    failed = [event for event in events if states[event.pk] == State.FAILED]
    assert [event.contact_key for event in failed] == [unlucky]
    assert InboundEvent.objects.get(pk=failed[0].pk).last_error == (
        "ValueError: estoque indisponível"
    )
    assert sum(state == State.DONE for state in states.values()) == 49
    # Each message counted once, the one whose handler failed (its turn taken twice) too.
    today = timezone.localdate()
    usage = metering.usage_between(tenant_id=bot.tenant_id, first_day=today, last_day=today)
    assert usage.messages_in == 50


def test_a_poison_payload_fails_alone_and_its_customers_next_message_is_answered(bot):
    """A payload that does not parse gets no apology (there is nobody to send it to) but its
    own error; the rest of the batch, the same customer's next message included, goes on."""
    poison = store(bot, "oi", phone(3), second=0)
    InboundEvent.objects.filter(pk=poison.pk).update(payload={"type": "text"})
    store(bot, "oi", phone(3), second=1)
    for n in range(5):
        store(bot, "oi", phone(10 + n))

    first = processor.drain(batch=50)

    assert first.poisoned == 1 and first.turns == 6
    poison.refresh_from_db()
    assert poison.state == State.FAILED and poison.last_error == "KeyError: 'timestamp'"
    assert InboundEvent.objects.filter(state=State.DONE).count() == 6
    assert GREETING in said_to(bot, phone(3))[0]


def test_a_turn_failing_outside_its_handler_fails_alone_and_nobody_is_answered_twice(
    bot, monkeypatch, django_capture_on_commit_callbacks
):
    """Its turn is rolled back on its own: the other turns of the batch are not run again
    (a handler may have booked an appointment with Cal.com)."""
    unlucky = phone(4)
    for n in range(10):
        store(bot, "oi", phone(n))
    entered = []
    original_enter, original_record = generic.MenuHandler.enter, engine._record_inbound

    def enter(self, ctx):
        entered.append(ctx.cliente.telefone)
        return original_enter(self, ctx)

    def record(conversation, parts):
        if parts[0].from_phone == unlucky:
            raise RuntimeError("disco cheio")
        return original_record(conversation, parts)

    monkeypatch.setattr(generic.MenuHandler, "enter", enter)
    monkeypatch.setattr(engine, "_record_inbound", record)

    with django_capture_on_commit_callbacks():
        result = processor.drain(batch=50)

    assert result.poisoned == 1
    assert sorted(entered) == sorted(phone(n) for n in range(10) if phone(n) != unlucky)
    assert said_to(bot, unlucky) == []
    assert not Cliente.objects.filter(telefone=unlucky).exists()  # nothing half-applied
    event = InboundEvent.objects.get(contact_key=unlucky)
    assert event.state == State.FAILED and event.last_error == "RuntimeError: disco cheio"
    assert InboundEvent.objects.filter(state=State.DONE).count() == 9


# --- A consumer killed mid-batch -----------------------------------------------------------------


class Killed(BaseException):
    """The process dying: not an Exception, so nothing in the processor handles it."""


def test_a_kill_between_claim_and_commit_leaves_everything_pending_then_once(
    bot, monkeypatch, django_capture_on_commit_callbacks
):
    for n in range(10):
        store(bot, "oi", phone(n))
    calls = []
    original = engine.events_finish

    def killed_before_commit(ids, error=""):
        original(ids, error)  # the batch's last statement ran…
        calls.append(ids)
        raise Killed  # …and the process died before COMMIT

    monkeypatch.setattr(engine, "events_finish", killed_before_commit)
    with pytest.raises(Killed):
        processor.drain(batch=50)
    assert calls
    assert set(InboundEvent.objects.values_list("state", flat=True)) == {State.PENDING}
    assert not Message.objects.exists()
    assert not Cliente.objects.exists()

    monkeypatch.setattr(engine, "events_finish", original)
    with django_capture_on_commit_callbacks():
        assert processor.drain(batch=50).turns == 10
    assert Message.objects.filter(direction="in").count() == 10
    assert Message.objects.filter(direction="out").count() == 10
    assert set(InboundEvent.objects.values_list("state", "attempts")) == {(State.DONE, 1)}


@pytest.mark.django_db(transaction=True)
def test_a_consumer_whose_connection_dies_mid_batch_commits_nothing(bot, monkeypatch):
    """The database's view of a SIGKILL: the consumer's session ends in the middle of its
    batch (pg_terminate_backend). Another consumer then answers every message once."""
    for n in range(6):
        store(bot, "oi", phone(n))
    inside, release = threading.Event(), threading.Event()
    backend: list[int] = []
    original = engine.turn_take

    def stalled(*args, **kwargs):
        turn = original(*args, **kwargs)
        if not inside.is_set():
            backend.append(connection.connection.info.backend_pid)
            inside.set()
            release.wait(10)
        return turn

    monkeypatch.setattr(engine, "turn_take", stalled)
    died: list[BaseException] = []

    def victim():
        try:
            processor.drain(batch=50)
        except BaseException as exc:  # the lost connection
            died.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=victim)
    thread.start()
    assert inside.wait(10)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend[0]])
    release.set()
    thread.join(10)
    assert died
    assert set(InboundEvent.objects.values_list("state", flat=True)) == {State.PENDING}
    assert not Message.objects.exists()

    monkeypatch.setattr(engine, "turn_take", original)
    assert processor.drain(batch=50).turns == 6
    assert Message.objects.filter(direction="in").count() == 6
    assert Message.objects.filter(direction="out").count() == 6
    assert set(InboundEvent.objects.values_list("state", "attempts")) == {(State.DONE, 1)}


@pytest.mark.django_db(transaction=True)
def test_a_processor_killed_with_sigkill_mid_batch_loses_and_repeats_nothing(bot, settings):
    """A real `manage.py run_processor` takes its batch and blocks on its first INSERT (a
    table lock held here); it is then SIGKILLed. Everything it did is undone, and the next
    consumer answers each message once."""
    for n in range(5):
        store(bot, "oi", phone(n))
    name = settings.DATABASES["default"]["NAME"]
    env = {**os.environ, "DATABASE_URL": re.sub(r"/[^/]*$", f"/{name}", os.environ["DATABASE_URL"])}
    locked, release = threading.Event(), threading.Event()

    def blocker():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE chatbots_message IN SHARE ROW EXCLUSIVE MODE")
            locked.set()
            release.wait(60)
        connection.close()

    holder = threading.Thread(target=blocker)
    holder.start()
    assert locked.wait(10)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run_processor", "--poll", "0.2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        waiting = False
        while time.monotonic() < deadline and not waiting:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                    " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"chatbots_message\"%%'",
                    [name],
                )
                waiting = cursor.fetchone()[0] > 0
            time.sleep(0.1)
        assert waiting, "the processor never reached its batch's first INSERT"
        # It runs below the web in the CPU scheduler (CONSUMER_NICENESS, 5 by default).
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, proc.pid) == min(own + 5, 19)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        release.set()
        holder.join(60)

    # Its session ends when PostgreSQL notices the client is gone; until then it holds the
    # customers' locks and this consumer skips them.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and InboundEvent.objects.filter(state=State.PENDING):
        processor.drain(batch=50)
        time.sleep(0.2)
    assert Message.objects.filter(direction="in").count() == 5
    assert Message.objects.filter(direction="out").count() == 5
    assert set(InboundEvent.objects.values_list("state", "attempts")) == {(State.DONE, 1)}


# --- Statements ------------------------------------------------------------------------------------

# A batch of returning customers, each with one text: fixed statements per batch (the
# statuses looked for in one, the contacts locked in one, their events in one, their
# conversations and customers in one, the events finished in one; in a test the batch's
# BEGIN/COMMIT are a savepoint and its release, counted too), then per turn the engine's
# own (the inbound Message, the handler's savepoint and its release, the queued reply,
# the conversation's changed columns).
PER_BATCH_MAX = 7
PER_TURN_MAX = 5


def test_a_batch_of_returning_customers_costs_a_few_statements_per_reply(
    bot, tenant, django_capture_on_commit_callbacks
):
    clientes = Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=phone(n), wa_id=phone(n), nome=f"C{n}") for n in range(20)
    )
    Conversation.objects.bulk_create(
        Conversation(tenant=tenant, chatbot=bot, cliente=c, current_step="menu") for c in clientes
    )
    for n in range(20):
        store(bot, "1", phone(n))
    processor.drain(batch=50)  # warm: the bot's steps are cached after the first turn
    for n in range(20):
        store(bot, "menu", phone(n), second=5)

    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks():
        result = processor.drain(batch=50)

    assert result.turns == 20
    assert Message.objects.filter(direction="out").count() == 40
    statements = [q["sql"] for q in ctx.captured_queries]
    assert len(statements) <= PER_BATCH_MAX + 20 * PER_TURN_MAX, "\n".join(statements)


def _batch_statements(bot, tenant, size: int, offset: int) -> tuple[int, list[str]]:
    """Statements of one batch of `size` customers' texts: half of them returning (a
    conversation at the menu), half new."""
    returning = [phone(offset + n) for n in range(size // 2)]
    clientes = Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=p, wa_id=p, nome="C") for p in returning
    )
    Conversation.objects.bulk_create(
        Conversation(tenant=tenant, chatbot=bot, cliente=c, current_step="menu") for c in clientes
    )
    senders = [*returning, *(phone(offset + n) for n in range(size // 2, size))]
    for p in senders:
        store(bot, "menu", p, second=offset)
    with CaptureQueriesContext(connection) as ctx:
        result = processor.drain(batch=100)
    assert result.turns == size
    for p in senders:
        assert len(said_to(bot, p)) == 1, p  # one reply each, new or returning
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def test_a_batchs_statements_do_not_grow_with_its_size(
    bot, tenant, django_capture_on_commit_callbacks
):
    """New customers, conversations, the customers' messages, the replies, the changed
    conversations and the events: a few statements per batch, however many turns it has."""
    with django_capture_on_commit_callbacks():
        _batch_statements(bot, tenant, 2, 900)  # warm: the bot's steps are cached
        small, _ = _batch_statements(bot, tenant, 4, 1000)
        large, statements = _batch_statements(bot, tenant, 40, 2000)
    assert large == small, "\n".join(statements)
    assert large <= 12, "\n".join(statements)


# --- People and waits ------------------------------------------------------------------------------


def test_a_conversation_with_an_attendant_is_stored_without_waiting_for_the_window(
    tenant, settings
):
    settings.CHATBOT_DEBOUNCE_MS = 1500
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    cliente = Cliente.objects.create(tenant=tenant, telefone=phone(1), wa_id=phone(1), nome="A")
    Conversation.objects.create(
        tenant=tenant, chatbot=bot, cliente=cliente, status=Conversation.Status.HUMAN
    )
    store(bot, "oi, ainda estou aqui", phone(1))
    store(bot, "oi", phone(2))  # a bot conversation waits for the customer to stop typing

    result = processor.drain(batch=50)

    assert result.turns == 1 and result.wait == pytest.approx(1.5, abs=0.5)
    assert list(
        Message.objects.filter(direction="in").values_list("conversation__cliente__telefone")
    ) == [(phone(1),)]


# --- Waking -----------------------------------------------------------------------------------------


def test_the_webhook_wakes_the_consumers_through_redis(settings):
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(processor.WAKE_CHANNEL)
    pubsub.get_message(timeout=1)  # the subscription's confirmation

    processor.dispatch(123)

    message = pubsub.get_message(timeout=5)
    pubsub.close()
    assert message is not None and message["channel"] == processor.WAKE_CHANNEL.encode()


@pytest.mark.django_db(transaction=True)
def test_a_sleeping_consumer_answers_when_woken(bot):
    """Its poll is a minute: only the wake-up can make it answer within the wait below."""
    consumer = processor.Consumer(batch=50, poll=60)
    thread = threading.Thread(target=lambda: (consumer.run(), connection.close()))
    thread.start()
    try:
        time.sleep(0.5)  # subscribed and asleep
        store(bot, "oi", phone(1))
        processor.wake()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not Message.objects.filter(direction="out"):
            time.sleep(0.1)
    finally:
        consumer.stop()
        processor.wake()
        thread.join(70)
    assert GREETING in said_to(bot, phone(1))[0]


def _run_consumer(consumer, monkeypatch):
    """The consumer in a thread; the batches it ran (their results), in order."""
    batches: list[processor.Drained] = []
    real = processor.drain

    def counted(**kwargs):
        result = real(**kwargs)
        batches.append(result)
        return result

    monkeypatch.setattr(processor, "drain", counted)
    thread = threading.Thread(target=lambda: (consumer.run(), connection.close()))
    thread.start()
    return thread, batches


def _wait_for_replies(count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and Message.objects.filter(direction="out").count() < count:
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_was_not_full_is_not_followed_by_an_empty_one(bot, monkeypatch):
    """Each message woken for is one batch: a batch that took everything ready goes back to
    sleep instead of querying again for nothing (half the statements at a low rate)."""
    consumer = processor.Consumer(batch=50, poll=60)
    thread, batches = _run_consumer(consumer, monkeypatch)
    try:
        time.sleep(0.5)  # the start's own look, then asleep
        started = len(batches)
        for n in range(3):
            store(bot, "oi", phone(n))
            processor.wake()
            _wait_for_replies(n + 1)
        time.sleep(0.3)
        ran = batches[started:]
    finally:
        consumer.stop()
        processor.wake()
        thread.join(70)
    assert [b.turns for b in ran] == [1, 1, 1]
    assert all(GREETING in said_to(bot, phone(n))[0] for n in range(3))


@pytest.mark.django_db(transaction=True)
def test_a_full_batch_is_followed_by_the_next_without_a_wake_up(bot, monkeypatch):
    for n in range(5):
        store(bot, "oi", phone(n))
    consumer = processor.Consumer(batch=2, poll=60)
    thread, batches = _run_consumer(consumer, monkeypatch)
    try:
        _wait_for_replies(5)  # no wake-up at all: the start's look, then full batches
    finally:
        consumer.stop()
        processor.wake()
        thread.join(70)
    assert [b.turns for b in batches] == [2, 2, 1]
    assert all(GREETING in said_to(bot, phone(n))[0] for n in range(5))
