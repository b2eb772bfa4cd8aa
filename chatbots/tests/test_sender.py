"""The sender (chatbots.outbox.sender): queued rows reach (a fake) Meta in claimed batches,
each customer's in order, with retries that hold back only their own customer, and a
sender killed mid-batch never sends a row twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import queue, sending
from chatbots.outbox.claims import claim
from chatbots.outbox.sender import Sender
from chatbots.wire import Text
from tests.factories import ClienteFactory

START = timezone.make_aware(datetime(2025, 3, 10, 9, 0))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def bot(tenant, fake_graph):
    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id="106540352242922",
        access_token="EAAG-tk",
    )


def open_conversation(bot, phone):
    cliente = ClienteFactory(tenant=bot.tenant, telefone=phone)
    return Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )


def queued(conversation, *bodies):
    """Rows queued as the engine queues them, without the commit that would nudge anyone."""
    return queue.queue_replies(
        conversation=conversation, messages=[Text(body=body) for body in bodies]
    )


def received(fake_graph):
    """(recipient, text) of every send Meta got, in arrival order."""
    return [(r.json["to"].lstrip("+"), r.json["text"]["body"]) for r in fake_graph.sends]


def statuses(rows):
    return [Message.objects.get(pk=row.pk).status for row in rows]


PHONES = ["5511900000001", "5511900000002", "5511900000003"]


def test_a_batch_to_several_customers_keeps_each_customers_order(clock, bot, fake_graph):
    conversations = [open_conversation(bot, phone) for phone in PHONES]
    rows = []
    for n in range(3):  # interleaved: customer 1, 2, 3, then again
        for conversation in conversations:
            rows += queued(conversation, f"mensagem {n + 1}")

    assert Sender(batch=20, threads=1).run_once() == 9

    for phone in PHONES:
        assert [text for to, text in received(fake_graph) if to == phone] == [
            "mensagem 1",
            "mensagem 2",
            "mensagem 3",
        ]
    assert statuses(rows) == ["sent"] * 9
    ids = {r.response["messages"][0]["id"] for r in fake_graph.sends}
    assert {Message.objects.get(pk=row.pk).provider_message_id for row in rows} == ids


def test_a_failing_send_retries_later_without_holding_back_other_customers(clock, bot, fake_graph):
    first, second = (open_conversation(bot, phone) for phone in PHONES[:2])
    late = queued(first, "um", "dois")
    on_time = queued(second, "três", "quatro")
    fake_graph.fail_next(code=131000)  # Meta's "something went wrong": 500, retryable

    Sender(batch=20, threads=1).run_once()

    assert [text for to, text in received(fake_graph) if to == PHONES[1]] == ["três", "quatro"]
    assert statuses(on_time) == ["sent", "sent"]
    head = Message.objects.get(pk=late[0].pk)
    assert (head.status, head.attempts, head.error_code) == ("queued", 1, "131000")
    assert head.next_attempt_at > timezone.now()
    assert statuses(late) == ["queued", "queued"]

    Sender(batch=20, threads=1).run_once()  # not due yet: nothing goes
    assert len(fake_graph.sends) == 3

    clock.move_to(head.next_attempt_at)
    Sender(batch=20, threads=1).run_once()

    assert [text for to, text in received(fake_graph) if to == PHONES[0]] == [
        "um",  # the refused attempt
        "um",
        "dois",
    ]
    assert statuses(late) == ["sent", "sent"]
    assert Message.objects.get(pk=late[0].pk).attempts == 2


def test_a_sender_killed_between_claim_and_outcome_never_sends_those_rows_twice(
    clock, bot, fake_graph
):
    conversations = [open_conversation(bot, f"55119000001{n:02d}") for n in range(6)]
    rows = [queued(conversation, "seu pedido saiu")[0] for conversation in conversations]

    claimed = claim(batch=4)  # the first sender claims, then dies before recording
    assert len(claimed) == 4
    Sender(batch=20, threads=1).run_once()  # a second sender takes only what is left

    assert len(fake_graph.sends) == 2
    clock.move_to(START + sending.SENDING_LEASE + timedelta(seconds=1))
    sending.sweep()
    Sender(batch=20, threads=1).run_once()

    assert len(fake_graph.sends) == 2  # nothing sent again
    by_id = {row.pk: Message.objects.get(pk=row.pk) for row in rows}
    lost = {row.pk for row in claimed}
    assert {pk for pk, row in by_id.items() if row.status == "failed"} == lost
    assert {by_id[pk].error_code for pk in lost} == {sending.SEND_INTERRUPTED}
    assert [row.status for pk, row in by_id.items() if pk not in lost] == ["sent", "sent"]


def test_two_senders_never_claim_the_same_customers_rows(clock, bot, fake_graph):
    conversation = open_conversation(bot, PHONES[0])
    rows = queued(conversation, "um", "dois", "três")

    first = claim(batch=20)
    second = claim(batch=20)

    assert [row.pk for row in first] == [row.pk for row in rows]
    assert second == []  # its head is being sent: the rows after it wait


def test_a_round_costs_three_statements_for_the_whole_batch(
    clock, bot, fake_graph, django_assert_num_queries
):
    conversations = [open_conversation(bot, f"55119000002{n:02d}") for n in range(10)]
    for conversation in conversations:
        queued(conversation, "olá", "tudo bem?")
    sender = Sender(batch=20, threads=1)
    # The subscription gate reads the tenant's subscription once, then from the cache.
    from billing.quotas import sending_allowed

    sending_allowed(tenant_id=bot.tenant_id)

    # claim, the conversations with their bot and customer, every outcome
    with django_assert_num_queries(3):
        assert sender.run_once() == 20

    assert len(fake_graph.sends) == 20


def test_a_send_the_provider_refuses_for_good_fails_and_the_next_row_goes(clock, bot, fake_graph):
    conversation = open_conversation(bot, PHONES[0])
    rows = queued(conversation, "um", "dois")
    fake_graph.fail_next(code=131026)  # undeliverable: permanent

    Sender(batch=20, threads=1).run_once()

    assert statuses(rows) == ["failed", "sent"]
    assert Message.objects.get(pk=rows[0].pk).error_code == "131026"


def test_the_send_gates_still_hold(clock, bot, fake_graph):
    conversation = open_conversation(bot, PHONES[0])
    conversation.last_customer_message_at = timezone.now() - timedelta(days=2)
    conversation.save()
    rows = queued(conversation, "fora da janela")

    Sender(batch=20, threads=1).run_once()

    assert fake_graph.sends == []
    row = Message.objects.get(pk=rows[0].pk)
    assert (row.status, row.error_code) == ("failed", sending.OUTSIDE_WINDOW)


def test_status_watchers_hear_of_each_send(clock, bot, fake_graph, monkeypatch):
    from chatbots.outbox import watch

    heard = []
    monkeypatch.setattr(
        watch, "_on_status", [lambda **kw: heard.append((kw["message_id"], kw["status"]))]
    )
    conversation = open_conversation(bot, PHONES[0])
    rows = queued(conversation, "um", "dois")

    Sender(batch=20, threads=1).run_once()

    assert heard == [(rows[0].pk, "sent"), (rows[1].pk, "sent")]


def test_one_sender_thread_sends_a_batch_over_one_kept_alive_connection(clock, bot, fake_graph):
    for phone in PHONES:
        queued(open_conversation(bot, phone), "um", "dois")

    Sender(batch=20, threads=1).run_once()

    assert len(fake_graph.sends) == 6
    assert len({r.connection for r in fake_graph.sends}) == 1


def test_a_gate_that_raises_retries_its_row_and_the_others_go(clock, bot, fake_graph, monkeypatch):
    from chatbots.outbox import gates

    broken = open_conversation(bot, PHONES[0])
    fine = open_conversation(bot, PHONES[1])

    def flaky(outgoing):
        if outgoing.cliente.telefone == PHONES[0]:
            raise RuntimeError("assinatura indisponível")
        return None

    monkeypatch.setitem(gates._gates, gates.SEND, [*gates._gates[gates.SEND], flaky])
    late = queued(broken, "um")
    on_time = queued(fine, "dois")

    Sender(batch=20, threads=1).run_once()

    assert received(fake_graph) == [(PHONES[1], "dois")]
    assert statuses(on_time) == ["sent"]
    row = Message.objects.get(pk=late[0].pk)
    assert (row.status, row.attempts, row.error_code) == ("queued", 1, sending.INTERNAL_ERROR)

    monkeypatch.setitem(
        gates._gates, gates.SEND, [g for g in gates._gates[gates.SEND] if g is not flaky]
    )
    clock.move_to(row.next_attempt_at)
    Sender(batch=20, threads=1).run_once()

    assert statuses(late) == ["sent"]


def test_the_plans_usage_counts_every_message_of_a_batch_once_per_tenant(
    clock, bot, other_tenant, fake_graph, django_capture_on_commit_callbacks, monkeypatch
):
    from billing import metering

    other_bot = Chatbot.objects.create(
        tenant=other_tenant,
        name="Clínica",
        provider="meta",
        phone_number_id="206540352242922",
        access_token="EAAG-tk2",
    )
    for phone in PHONES:
        queued(open_conversation(bot, phone), "um", "dois")
    queued(open_conversation(other_bot, "5511900000999"), "três")
    calls = []
    record = metering.record
    monkeypatch.setattr(metering, "record", lambda **kw: (calls.append(kw), record(**kw)))

    with django_capture_on_commit_callbacks(execute=True):
        Sender(batch=20, threads=1).run_once()

    today = timezone.localdate()
    assert metering.pending(tenant_id=bot.tenant_id, days=[today])[today]["messages_out"] == 6
    assert metering.pending(tenant_id=other_tenant.pk, days=[today])[today]["messages_out"] == 1
    assert sorted(call["messages_out"] for call in calls) == [1, 6]
