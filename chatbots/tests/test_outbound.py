"""The outbox: queued replies reach (a fake) Meta in order, with retries, window and templates.

Retries are scheduled with a countdown; eager Celery cannot wait, so the tests play the
worker's part: `drive` moves the clock to each row's next_attempt_at and runs the task body
again, exactly what the delayed task (or the sweeper) would do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from chatbots.models import Conversation, Message, MessageTemplate
from chatbots.outbox import queue, sending, tasks
from chatbots.wire import Button, Buttons, ListMessage, Row, Section, Template, Text
from tests.fakes.graph import unused_url

START = timezone.make_aware(datetime(2025, 3, 10, 9, 0))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def bot(graph_bot):
    return graph_bot


@pytest.fixture
def conversation(clock, bot, cliente):
    return Conversation.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(minutes=3),
    )


@pytest.fixture
def reply(celery_eager, django_capture_on_commit_callbacks):
    """Queue messages the way the engine does: inside its transaction, sent on commit."""

    def reply(conversation, *messages):
        with django_capture_on_commit_callbacks(execute=True):
            rows = queue.queue_replies(conversation=conversation, messages=list(messages))
        return [Message.objects.get(pk=r.pk) for r in rows]

    return reply


def drive(conversation, clock, *, limit=20):
    """Run each delayed retry when it is due, until nothing waits."""
    for _ in range(limit):
        due = (
            Message.objects.filter(conversation=conversation, status=Message.Status.QUEUED)
            .exclude(next_attempt_at=None)
            .order_by("id")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if due is None:
            return
        clock.move_to(due)
        sending.send_pending(conversation.pk)
    raise AssertionError(f"still retrying after {limit} rounds")


def texts(fake_graph):
    return [r.json["text"]["body"] for r in fake_graph.sends]


def fresh(row):
    return Message.objects.get(pk=row.pk)


def failed_total(code):
    return REGISTRY.get_sample_value("chatbot_outbound_failed_total", {"code": code}) or 0.0


def test_replies_of_a_turn_reach_meta_in_order(fake_graph, conversation, reply):
    rows = reply(
        conversation,
        Text(body="Olá, Maria!"),
        Buttons(body="Quer ver o cardápio?", buttons=[Button(id="sim", title="Sim")]),
        ListMessage(
            body="Escolha",
            button="Categorias",
            sections=[Section(title="", rows=[Row(id="paes", title="Pães")])],
        ),
    )

    assert [r.json["type"] for r in fake_graph.sends] == ["text", "interactive", "interactive"]
    assert [r.json.get("interactive", {}).get("type") for r in fake_graph.sends] == [
        None,
        "button",
        "list",
    ]
    ids = [r.response["messages"][0]["id"] for r in fake_graph.sends]
    assert [(r.status, r.provider_message_id, r.attempts) for r in map(fresh, rows)] == [
        ("sent", ids[0], 1),
        ("sent", ids[1], 1),
        ("sent", ids[2], 1),
    ]
    assert all(fresh(r).sent_at == START for r in rows)


def test_queue_replies_saves_the_rows_in_one_insert(conversation, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = queue.queue_replies(
            conversation=conversation,
            messages=[Text(body="um"), Text(body="dois"), Template(name="hello_world")],
        )

    saved = list(Message.objects.filter(conversation=conversation).order_by("id"))
    assert [r.pk for r in saved] == [r.pk for r in rows]
    assert [(m.direction, m.status, m.type, m.text) for m in saved] == [
        ("out", "queued", "text", "um"),
        ("out", "queued", "text", "dois"),
        ("out", "queued", "template", "[template hello_world] "),
    ]
    assert saved[0].payload == {"kind": "text", "body": "um", "preview_url": False}
    assert {m.tenant_id for m in saved} == {conversation.tenant_id}


def test_a_rate_limited_message_is_retried_until_meta_accepts_it(
    fake_graph, conversation, reply, clock
):
    fake_graph.fail_next(code=130429, times=2)

    (row,) = reply(conversation, Text(body="Seu pedido saiu"))

    row = fresh(row)
    assert (row.status, row.attempts, row.error_code) == ("queued", 1, "130429")
    assert START < row.next_attempt_at <= START + timedelta(seconds=1)
    drive(conversation, clock)
    row = fresh(row)
    assert (row.status, row.attempts, row.error_code) == ("sent", 3, "")
    assert texts(fake_graph) == ["Seu pedido saiu"] * 3
    assert row.provider_message_id == fake_graph.sends[-1].response["messages"][0]["id"]


def test_later_replies_wait_behind_a_retrying_one(fake_graph, conversation, reply, clock):
    fake_graph.fail_next(code=130429, times=2)

    first, second, third = reply(conversation, Text(body="1"), Text(body="2"), Text(body="3"))

    assert texts(fake_graph) == ["1"]
    assert [fresh(r).status for r in (first, second, third)] == ["queued", "queued", "queued"]
    # The customer writes again meanwhile: the next turn's task must not overtake either.
    (fourth,) = reply(conversation, Text(body="4"))
    assert texts(fake_graph) == ["1"]
    drive(conversation, clock)
    assert texts(fake_graph) == ["1", "1", "1", "2", "3", "4"]
    assert [fresh(r).status for r in (first, second, third, fourth)] == ["sent"] * 4


def test_a_permanent_error_fails_at_once_and_the_next_reply_still_goes(
    fake_graph, conversation, reply
):
    before = failed_total("131026")
    fake_graph.fail_next(code=131026, details="Message Undeliverable.")

    bad, good = reply(conversation, Text(body="1"), Text(body="2"))

    bad = fresh(bad)
    assert (bad.status, bad.error_code, bad.attempts) == ("failed", "131026", 1)
    assert "Message Undeliverable." in bad.error_detail
    assert bad.failed_at == START
    assert texts(fake_graph) == ["1", "2"]  # exactly one request for the failed one
    assert fresh(good).status == "sent"
    assert failed_total("131026") == before + 1


def test_it_gives_up_after_five_retries(fake_graph, conversation, reply, clock):
    fake_graph.fail_next(code=130429, times=50)

    (row,) = reply(conversation, Text(body="Oi"))
    drive(conversation, clock)

    row = fresh(row)
    assert (row.status, row.error_code, row.attempts) == ("failed", "130429", 6)
    assert len(fake_graph.sends) == 6
    assert row.next_attempt_at is None


def test_backoff_grows_and_stays_short(fake_graph, conversation, reply, clock):
    fake_graph.fail_next(code=131057, times=5)
    (row,) = reply(conversation, Text(body="Oi"))
    waits = []
    for _ in range(5):
        row = fresh(row)
        if row.status != "queued":
            break
        waits.append((row.next_attempt_at - timezone.now()).total_seconds())
        clock.move_to(row.next_attempt_at)
        sending.send_pending(conversation.pk)

    assert fresh(row).status == "sent"
    # Steps of 1, 2, 4, 8, 16 s, each with jitter between half and all of the step.
    steps = [1, 2, 4, 8, 16]
    assert len(waits) == 5
    assert all(step / 2 <= wait <= step for wait, step in zip(waits, steps, strict=True)), waits


def test_a_timeout_is_retried(fake_graph, conversation, reply, clock, settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.2
    fake_graph.delay_next(1.0)

    (row,) = reply(conversation, Text(body="Oi"))

    assert (fresh(row).status, fresh(row).error_code) == ("queued", "timeout")
    drive(conversation, clock)
    assert (fresh(row).status, fresh(row).attempts) == ("sent", 2)


def test_a_refused_connection_is_retried_then_fails(conversation, reply, clock, settings):
    settings.WHATSAPP_GRAPH_API_URL = unused_url()

    (row,) = reply(conversation, Text(body="Oi"))
    drive(conversation, clock)

    assert (fresh(row).status, fresh(row).error_code, fresh(row).attempts) == (
        "failed",
        "connection_error",
        6,
    )


@pytest.mark.parametrize("last_message", [timedelta(hours=24, seconds=1), None])
def test_a_message_outside_the_24_hour_window_is_never_sent(
    fake_graph, conversation, reply, last_message
):
    conversation.last_customer_message_at = last_message and timezone.now() - last_message
    conversation.save()
    before = failed_total("outside_24h_window")

    (row,) = reply(conversation, Text(body="Volte sempre!"))

    row = fresh(row)
    assert (row.status, row.error_code, row.attempts) == ("failed", "outside_24h_window", 0)
    assert "24 horas" in row.error_detail
    assert fake_graph.requests == []
    assert failed_total("outside_24h_window") == before + 1


def test_an_approved_template_is_sent_outside_the_window(fake_graph, bot, conversation, reply):
    conversation.last_customer_message_at = timezone.now() - timedelta(days=3)
    conversation.save()
    MessageTemplate.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        name="pedido_saiu",
        language="pt_BR",
        param_count=2,
        approved=True,
    )

    (row,) = reply(conversation, Template(name="pedido_saiu", params=["Maria", "#42"]))

    assert fresh(row).status == "sent"
    (request,) = fake_graph.sends
    assert request.json["template"]["name"] == "pedido_saiu"
    assert request.json["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Maria"},
        {"type": "text", "text": "#42"},
    ]


@pytest.mark.parametrize(
    ("registered", "expected_code"),
    [
        (None, "template_not_approved"),
        ({"approved": False}, "template_not_approved"),
        ({"language": "en_US"}, "template_not_approved"),
        ({"param_count": 3}, "template_params_mismatch"),
    ],
)
def test_a_template_that_meta_would_refuse_is_refused_before_sending(
    fake_graph, bot, conversation, reply, registered, expected_code
):
    if registered is not None:
        fields = {"name": "pedido_saiu", "language": "pt_BR", "param_count": 2, "approved": True}
        MessageTemplate.objects.create(tenant=bot.tenant, chatbot=bot, **{**fields, **registered})

    (row,) = reply(conversation, Template(name="pedido_saiu", params=["Maria", "#42"]))

    assert (fresh(row).status, fresh(row).error_code) == ("failed", expected_code)
    assert "pedido_saiu" in fresh(row).error_detail
    assert fake_graph.requests == []


def test_messages_beyond_the_bots_rate_wait_for_the_next_second(
    fake_graph, bot, conversation, reply, clock
):
    bot.messages_per_second = 2
    bot.save()

    rows = reply(conversation, Text(body="1"), Text(body="2"), Text(body="3"))

    assert texts(fake_graph) == ["1", "2"]
    waiting = fresh(rows[2])
    assert (waiting.status, waiting.attempts) == ("queued", 0)
    assert START < waiting.next_attempt_at <= START + timedelta(seconds=1)
    drive(conversation, clock)
    assert texts(fake_graph) == ["1", "2", "3"]


def test_running_the_task_again_sends_nothing_twice(fake_graph, conversation, reply):
    reply(conversation, Text(body="1"), Text(body="2"))

    sending.send_pending(conversation.pk)
    sending.send_pending(conversation.pk)

    assert texts(fake_graph) == ["1", "2"]


def test_a_message_another_worker_is_sending_holds_the_rest(fake_graph, conversation):
    busy, later = queue.queue_replies(
        conversation=conversation, messages=[Text(body="1"), Text(body="2")]
    )
    Message.objects.filter(pk=busy.pk).update(
        status="sending", next_attempt_at=timezone.now() + sending.SENDING_LEASE
    )

    sending.send_pending(conversation.pk)

    assert fake_graph.requests == []
    assert fresh(later).status == "queued"


def test_the_stub_provider_records_without_any_http(fake_graph, bot, conversation, reply):
    bot.provider = "stub"
    bot.save()

    rows = reply(conversation, Text(body="Olá"), Template(name="qualquer"))

    first, second = map(fresh, rows)
    assert first.status == "sent" and first.provider_message_id.startswith("stub.")
    assert first.payload == {"kind": "text", "body": "Olá", "preview_url": False}
    assert (second.status, second.error_code) == ("failed", "template_not_approved")
    assert fake_graph.requests == []


def test_an_unknown_provider_fails_loudly(fake_graph, bot, conversation, reply):
    bot.provider = "zapzap"
    bot.save()

    (row,) = reply(conversation, Text(body="Olá"))

    row = fresh(row)
    assert (row.status, row.error_code) == ("failed", "unknown_provider")
    assert "zapzap" in row.error_detail and "meta" in row.error_detail
    assert fake_graph.requests == []


def test_the_sweeper_sends_what_a_lost_task_left_queued(
    fake_graph, conversation, clock, celery_eager, django_capture_on_commit_callbacks
):
    # The commit happened but the task never ran (broker down): rows sit queued.
    with django_capture_on_commit_callbacks(execute=False):
        rows = queue.queue_replies(conversation=conversation, messages=[Text(body="Oi")])

    assert sending.sweep() == 0  # too recent: its task may still be on the way
    clock.move_to(START + timedelta(minutes=2))
    assert sending.sweep() == 1

    assert fresh(rows[0]).status == "sent"
    assert texts(fake_graph) == ["Oi"]


def test_the_sweeper_fails_a_stuck_send_instead_of_repeating_it(
    fake_graph, conversation, clock, celery_eager
):
    stuck, after = queue.queue_replies(
        conversation=conversation, messages=[Text(body="1"), Text(body="2")]
    )
    # A worker claimed "1" and died before recording Meta's answer.
    Message.objects.filter(pk=stuck.pk).update(
        status="sending", next_attempt_at=timezone.now() + sending.SENDING_LEASE
    )

    assert sending.sweep() == 0  # the claim is still young
    clock.move_to(START + sending.SENDING_LEASE + timedelta(seconds=1))
    assert sending.sweep() == 1

    assert (fresh(stuck).status, fresh(stuck).error_code) == ("failed", "send_interrupted")
    assert fresh(after).status == "sent"
    assert texts(fake_graph) == ["2"]


def test_retry_failed_sends_a_failed_message_again(
    fake_graph, conversation, reply, django_capture_on_commit_callbacks
):
    fake_graph.fail_next(code=131026)
    (row,) = reply(conversation, Text(body="Oi"))
    assert fresh(row).status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        assert sending.retry_failed(message_ids=[row.pk]) == 1

    row = fresh(row)
    assert (row.status, row.attempts, row.error_code) == ("sent", 1, "")
    assert texts(fake_graph) == ["Oi", "Oi"]


def test_retry_failed_leaves_other_rows_alone(fake_graph, conversation, reply):
    (sent,) = reply(conversation, Text(body="Oi"))

    assert sending.retry_failed(message_ids=[sent.pk]) == 0
    assert fresh(sent).status == "sent"


def test_the_read_receipt_goes_after_commit(
    fake_graph, bot, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        queue.queue_mark_read(chatbot=bot, external_id="wamid.IN1")

    assert [r.json["message_id"] for r in fake_graph.reads] == ["wamid.IN1"]


def test_a_failed_read_receipt_breaks_nothing(fake_graph, bot):
    fake_graph.fail_next(code=190)

    sending.mark_read(bot.pk, "wamid.IN1")  # no exception

    assert len(fake_graph.reads) == 1


def test_a_read_receipt_rides_with_the_replies_of_its_transaction_and_goes_after_them(
    fake_graph, bot, conversation, celery_eager, django_capture_on_commit_callbacks, monkeypatch
):
    own_task = []
    monkeypatch.setattr(tasks.mark_read, "delay", lambda *args: own_task.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        queue.queue_replies(conversation=conversation, messages=[Text(body="Oi")])
        queue.queue_mark_read(chatbot=bot, external_id="wamid.IN1", conversation=conversation)

    assert own_task == []  # the send task carried it
    assert [("read" if r.is_read_receipt else "send") for r in fake_graph.requests] == [
        "send",
        "read",
    ]
    assert fake_graph.reads[0].json["message_id"] == "wamid.IN1"


def test_a_read_receipt_never_rides_with_replies_that_were_rolled_back(
    fake_graph, bot, conversation, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            queue.queue_replies(conversation=conversation, messages=[Text(body="Oi")])
            raise RuntimeError("the handler failed")
        queue.queue_mark_read(chatbot=bot, external_id="wamid.IN1", conversation=conversation)

    assert fake_graph.sends == []
    assert [r.json["message_id"] for r in fake_graph.reads] == ["wamid.IN1"]


def test_the_send_task_still_sends_its_read_receipts_when_there_is_nothing_to_send(
    fake_graph, bot, conversation, celery_eager
):
    tasks.send_outbound.delay(conversation.pk, read=["wamid.IN1", "wamid.IN2"])

    assert [r.json["message_id"] for r in fake_graph.reads] == ["wamid.IN1", "wamid.IN2"]


def test_a_broker_outage_leaves_the_rows_for_the_sweeper(
    conversation, monkeypatch, fake_graph, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_outbound, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):  # the caller's commit must not break
        rows = queue.queue_replies(conversation=conversation, messages=[Text(body="Oi")])

    assert fresh(rows[0]).status == "queued"
    assert fake_graph.requests == []
