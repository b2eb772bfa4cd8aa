"""Outages of PostgreSQL or Redis (config.outage): nothing a customer sent or is owed fails
because of one; it waits and goes once they are back. And read receipts that met a 429/5xx
are tried again, without holding a reply back."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from chatbots import engine, processor
from chatbots.models import Conversation, InboundEvent, Message
from chatbots.outbox import queue, sending
from chatbots.outbox.sender import Sender
from chatbots.wire import Text
from config import outage
from tests.factories import ChatbotFactory, ClienteFactory, InboundEventFactory


@pytest.fixture
def meta_bot(graph_bot):
    return graph_bot


def _conversation(bot):
    return Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=ClienteFactory(tenant=bot.tenant, telefone="5511912345678"),
        last_customer_message_at=timezone.now() - timedelta(minutes=1),
    )


def test_a_redis_outage_in_the_rate_governor_keeps_the_reply_queued_until_it_is_back(
    meta_bot, fake_graph, monkeypatch
):
    conversation = _conversation(meta_bot)
    (row,) = queue.queue_replies(conversation=conversation, messages=[Text(body="Olá!")])

    def down(**_kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    sender = Sender(batch=10, threads=1, poll=0.01)
    with monkeypatch.context() as patch:
        # Both the sender round's take and a single send's take reach Redis here.
        patch.setattr("chatbots.ratelimit.bucket_take_many", down)
        for _round in range(MAX_ROUNDS := sending.MAX_RETRIES + 2):
            Message.objects.filter(pk=row.pk).update(next_attempt_at=None)
            sender.run_once()
    row.refresh_from_db()
    assert MAX_ROUNDS > sending.MAX_RETRIES
    assert row.status == Message.Status.QUEUED  # never failed, however many rounds
    assert row.attempts == 0 and row.error_code == sending.INFRASTRUCTURE
    assert fake_graph.sends == []

    Message.objects.filter(pk=row.pk).update(next_attempt_at=None)  # its wait is over
    sender.run_once()
    sender.close()
    row.refresh_from_db()
    assert row.status == Message.Status.SENT
    assert [r.json["text"]["body"] for r in fake_graph.sends] == ["Olá!"]


@pytest.mark.django_db(transaction=True)
def test_a_redis_outage_during_a_turn_leaves_the_message_pending_not_failed(tenant, monkeypatch):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    event = InboundEventFactory(chatbot=bot, text="oi", sender="5511900000001")
    real_turn = engine.turn_take

    def down(*_args, **_kwargs):
        raise redis.ConnectionError("Connection reset by peer")

    monkeypatch.setattr("chatbots.engine.turn_take", down)
    with pytest.raises(redis.ConnectionError):
        processor.drain(batch=10)
    event.refresh_from_db()
    assert event.state == InboundEvent.State.PENDING
    assert not Message.objects.filter(direction="out").exists()

    monkeypatch.setattr("chatbots.engine.turn_take", real_turn)
    processor.drain(batch=10)
    event.refresh_from_db()
    assert event.state == InboundEvent.State.DONE
    assert Message.objects.filter(direction="out").exists()


def test_a_read_receipt_that_meets_a_429_is_tried_again_until_meta_takes_it(meta_bot, fake_graph):
    fake_graph.fail_next(code=130429, times=2)  # throughput limit: 429, retryable
    waits: list[float] = []

    assert sending._mark_read(meta_bot, "wamid.IN1", sleep=waits.append) is True
    assert len(fake_graph.reads) == 3
    assert len(waits) == 2 and all(0 < w <= sending.READ_RETRY_DELAYS[-1] for w in waits)


def test_a_read_receipt_is_given_up_after_its_tries_or_a_permanent_error(meta_bot, fake_graph):
    fake_graph.fail_next(code=131000, times=sending.READ_TRIES)  # 500 every time
    assert sending._mark_read(meta_bot, "wamid.IN1", sleep=lambda _s: None) is False
    assert len(fake_graph.reads) == sending.READ_TRIES

    fake_graph.fail_next(code=100)  # invalid parameter: 400, never retried
    assert sending._mark_read(meta_bot, "wamid.IN2", sleep=lambda _s: None) is False
    assert len(fake_graph.reads) == sending.READ_TRIES + 1


def test_the_sender_retries_a_receipt_in_a_later_round_so_replies_never_wait_for_it(
    meta_bot, fake_graph
):
    sender = Sender(batch=10, threads=1, poll=0.01)
    fake_graph.fail_next(code=130429)
    sender._later_receipts.clear()
    wait = sending.read_try(meta_bot, "wamid.IN1", tries=1)
    assert wait is not None and wait > 0  # a 429: scheduled, not slept on
    sender._later_receipts.append((0.0, meta_bot.pk, "wamid.IN1", 2))  # already due

    conversation = _conversation(meta_bot)
    queue.queue_replies(conversation=conversation, messages=[Text(body="Pedido recebido")])
    sender.run_once()
    sender.close()
    assert [r.json["text"]["body"] for r in fake_graph.sends] == ["Pedido recebido"]
    assert len(fake_graph.reads) == 2 and sender._later_receipts == []


def test_backoff_grows_to_its_cap_and_logs_an_outage_once(caplog):
    backoff = outage.Backoff("processor", base=0.5, cap=4.0)
    exc = redis.ConnectionError("refused")
    with caplog.at_level(logging.WARNING, logger="config.outage"):
        waits = [backoff.failed(exc) for _ in range(8)]
        backoff.ok()
        backoff.ok()
    assert 0.25 <= waits[0] <= 0.5 and all(2.0 <= w <= 4.0 for w in waits[4:])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "processor lost its connection; retrying with backoff",
        "processor reconnected",
    ]
    assert not backoff.down


def test_only_connection_errors_count_as_an_outage():
    from django.db import IntegrityError, OperationalError

    assert outage.is_transient(OperationalError("server closed the connection unexpectedly"))
    try:
        try:
            raise redis.ConnectionError("refused")
        except redis.ConnectionError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as wrapped:
        assert outage.is_transient(wrapped)
    assert not outage.is_transient(IntegrityError("duplicate key"))
    assert not outage.is_transient(ValueError("bad input"))
