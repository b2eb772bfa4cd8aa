"""A sender's round asks the SEND gates and the per-number governor once for all its rows
(chatbots.outbox.rounds), and keeps what each send asked for itself: a number at its limit
sends its slots and the rest wait, slots of rows held back are given back, a canceled
subscription stops its own tenant's rows only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from billing.models import Plan, Subscription
from chatbots import ratelimit
from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import queue
from chatbots.outbox.sender import Sender
from chatbots.wire import Text
from tests.factories import ClienteFactory

START = timezone.make_aware(datetime(2025, 3, 10, 9, 0))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def make_bot(tenant, pnid, *, rate=0):
    return Chatbot.objects.create(
        tenant=tenant,
        name=f"Bot {pnid}",
        provider="meta",
        phone_number_id=pnid,
        access_token="EAAG-tk",
        messages_per_second=rate,
    )


def conversation_with(bot, phone, *bodies):
    cliente = ClienteFactory(tenant=bot.tenant, telefone=phone)
    conversation = Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )
    return queue.queue_replies(
        conversation=conversation, messages=[Text(body=body) for body in bodies]
    )


def status_of(rows):
    return [Message.objects.get(pk=row.pk).status for row in rows]


def test_a_number_at_its_limit_sends_its_slots_and_the_rest_wait(clock, tenant, fake_graph):
    bot = make_bot(tenant, "106540352242922", rate=3)
    rows = [conversation_with(bot, f"551190000010{n}", f"oi {n}")[0] for n in range(5)]

    assert Sender(batch=20, threads=1).run_once() == 5

    assert len(fake_graph.sends) == 3
    assert status_of(rows).count("sent") == 3
    waiting = [Message.objects.get(pk=r.pk) for r in rows if status_of([r]) == ["queued"]]
    assert len(waiting) == 2
    # The next slot of a 3/s number is a third of a second away.
    for row in waiting:
        assert timedelta(0) < row.next_attempt_at - timezone.now() <= timedelta(seconds=1)


def test_slots_of_rows_held_back_behind_a_retry_are_given_back(clock, tenant, fake_graph):
    bot = make_bot(tenant, "106540352242922", rate=4)
    held = conversation_with(bot, "5511900000201", "um", "dois", "três")
    other = conversation_with(bot, "5511900000202", "quatro")
    fake_graph.fail_next(code=131000)  # a 5xx: the first row retries, the two after it wait

    Sender(batch=20, threads=1).run_once()

    assert status_of(held) == ["queued", "queued", "queued"]
    assert status_of(other) == ["sent"]
    # Four slots were taken for the round; the two rows that never went gave theirs back.
    granted, _wait = ratelimit.chatbot_take_tokens(chatbot=bot, count=4)
    assert granted == 2


def test_a_canceled_subscription_stops_its_tenants_rows_and_no_one_elses(
    clock, tenant, other_tenant, fake_graph
):
    plan = Plan.objects.create(name="Básico", max_messages_per_month=0)
    Subscription.objects.create(
        tenant=other_tenant,
        plan=plan,
        status=Subscription.Status.CANCELED,
        current_period_start=timezone.now(),
        current_period_end=timezone.now() + timedelta(days=30),
    )
    ours = conversation_with(make_bot(tenant, "106540352242922"), "5511900000301", "olá")
    theirs = conversation_with(make_bot(other_tenant, "206540352242922"), "5511900000302", "oi")

    Sender(batch=20, threads=1).run_once()

    assert status_of(ours) == ["sent"]
    row = Message.objects.get(pk=theirs[0].pk)
    assert (row.status, row.error_code) == ("failed", "subscription_canceled")
    assert [r.json["to"].lstrip("+") for r in fake_graph.sends] == ["5511900000301"]


def test_a_round_asks_the_governor_once_per_number(clock, tenant, fake_graph, monkeypatch):
    first = make_bot(tenant, "106540352242922", rate=80)
    second = make_bot(tenant, "106540352242923", rate=80)
    for n in range(6):
        conversation_with(first if n % 2 else second, f"551190000040{n}", "oi")
    asked = []
    take = ratelimit.bucket_take_many
    monkeypatch.setattr(
        ratelimit, "bucket_take_many", lambda **kw: (asked.append(kw["key"]), take(**kw))[1]
    )

    Sender(batch=20, threads=1).run_once()

    assert len(fake_graph.sends) == 6
    assert sorted(asked) == sorted(
        [f"{ratelimit.KEY_PREFIX}{first.pk}", f"{ratelimit.KEY_PREFIX}{second.pk}"]
    )
