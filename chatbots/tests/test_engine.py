"""The flow engine end to end: webhook -> processing -> queued replies, once and in order."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatbots import bots, engine, inbound, starter_flows
from chatbots.models import Conversation, InboundEvent, Message
from clientes.models import Cliente
from tests import meta
from tests.concurrency import run_at_once

SECRET = "engine-test-app-secret"
PNID = "1000001"
CUSTOMER = "5511987654321"


@pytest.fixture
def menu_bot(tenant):
    bot = bots.chatbot_create(
        tenant=tenant,
        name="Padaria",
        provider="stub",
        phone_number_id=PNID,
        app_secret=SECRET,
        verify_token="vt",
    )
    starter_flows.flow_install(chatbot=bot, flow="menu")
    return bot


def deliver(client, payload, django_capture_on_commit_callbacks):
    """POST a signed webhook and run what it queues (processing, then sending) inline."""
    with django_capture_on_commit_callbacks(execute=True):
        response = meta.post(client, payload, SECRET)
    assert response.status_code == 200, response.content
    return response


def bot_texts(conversation) -> list[str]:
    return list(
        conversation.messages.filter(direction=Message.Direction.OUT)
        .order_by("id")
        .values_list("text", flat=True)
    )


@pytest.fixture
def run(client, celery_eager, django_capture_on_commit_callbacks, menu_bot):
    def _run(payload):
        return deliver(client, payload, django_capture_on_commit_callbacks)

    return _run


def test_it_greets_a_new_customer_with_the_first_step_menu(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi", name="Maria"))

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.cliente.nome == "Maria"
    assert conv.cliente.telefone == CUSTOMER
    assert conv.current_step == "inicio"
    [greeting] = conv.messages.filter(direction="out")
    assert greeting.type == "buttons"
    assert "Como posso ajudar" in greeting.text
    assert [b["title"] for b in greeting.payload["buttons"]] == [
        "Horário e endereço",
        "Falar com atendente",
        "Encerrar",
    ]
    assert greeting.status == Message.Status.SENT  # the stub provider recorded it
    inbound = conv.messages.get(direction="in")
    assert inbound.text == "oi"
    assert conv.last_customer_message_at is not None


def test_a_tap_moves_to_the_chosen_step_and_says_and_goes_on(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    run(meta.button_reply(PNID, sender=CUSTOMER, reply_id="info", title="Horário e endereço"))

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.current_step == "informacoes"
    assert "segunda a sábado" in bot_texts(conv)[-1]


def test_typing_the_option_number_works_like_a_tap(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    run(meta.text_message(PNID, sender=CUSTOMER, body="3"))

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.CLOSED
    assert "Obrigado pelo contato" in bot_texts(conv)[-1]


def test_menu_keyword_restarts_the_flow_from_any_step(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    run(meta.button_reply(PNID, sender=CUSTOMER, reply_id="info", title="Horário e endereço"))
    run(meta.text_message(PNID, sender=CUSTOMER, body="MENU"))

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.current_step == "inicio"
    assert "Como posso ajudar" in bot_texts(conv)[-1]


def test_the_bot_stays_quiet_while_a_person_attends(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    run(meta.button_reply(PNID, sender=CUSTOMER, reply_id="humano", title="Falar com atendente"))
    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.WAITING
    replies_before = len(bot_texts(conv))

    run(meta.text_message(PNID, sender=CUSTOMER, body="alô? menu"))
    run(meta.text_message(PNID, sender=CUSTOMER, body="menu"))

    conv.refresh_from_db()
    assert len(bot_texts(conv)) == replies_before
    assert conv.messages.filter(direction="in").count() == 4  # still recorded for the agent


def test_a_closed_conversation_starts_over(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    run(meta.text_message(PNID, sender=CUSTOMER, body="encerrar"))
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi de novo"))

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.BOT
    assert conv.current_step == "inicio"


def test_a_failing_handler_apologizes_and_leaves_nothing_half_saved(run, menu_bot, monkeypatch):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    conv = Conversation.objects.get(chatbot=menu_bot)
    conv.state = {"kept": True}
    conv.save()

    from chatbots.handlers import generic

    def boom(self, ctx):
        raise RuntimeError("database of prices unreachable")

    monkeypatch.setattr(generic.MenuHandler, "handle", boom)
    run(meta.text_message(PNID, sender=CUSTOMER, body="1"))

    conv.refresh_from_db()
    assert conv.current_step == "inicio"
    assert conv.state == {"kept": True}
    assert "tive um problema" in bot_texts(conv)[-1]
    event = InboundEvent.objects.filter(kind="message").order_by("-id").first()
    assert event.state == InboundEvent.State.FAILED
    assert "database of prices unreachable" in event.last_error


def test_reactions_are_recorded_but_do_not_drive_the_flow(run, menu_bot):
    run(meta.text_message(PNID, sender=CUSTOMER, body="oi"))
    payload = meta.envelope(
        PNID,
        contacts=[{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}],
        messages=[
            {
                "from": CUSTOMER,
                "id": meta.wamid(),
                "timestamp": str(int(time.time())),
                "type": "reaction",
                "reaction": {"message_id": "wamid.X", "emoji": "👍"},
            }
        ],
    )
    run(payload)
    conv = Conversation.objects.get(chatbot=menu_bot)
    assert len(bot_texts(conv)) == 1
    assert conv.messages.filter(direction="in", type="reaction").count() == 1


# --- Exactly once and in order, with several workers -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_message_delivered_three_times_concurrently_is_answered_once(tenant, celery_eager):
    bot = bots.chatbot_create(
        tenant=tenant, name="P", provider="stub", phone_number_id=PNID, app_secret=SECRET
    )
    starter_flows.flow_install(chatbot=bot, flow="menu")
    payload = meta.text_message(PNID, sender=CUSTOMER, body="oi")
    statuses = []

    def post():
        statuses.append(meta.post(Client(), payload, SECRET).status_code)

    run_at_once([post, post, post])
    # ...and once more, late, as Meta's retries do
    statuses.append(meta.post(Client(), payload, SECRET).status_code)

    assert statuses == [200, 200, 200, 200]
    assert InboundEvent.objects.count() == 1
    assert Message.objects.filter(direction="in").count() == 1
    assert Message.objects.filter(direction="out").count() == 1
    assert InboundEvent.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_one_event_processed_by_three_workers_at_once_is_processed_once(tenant):
    bot = bots.chatbot_create(tenant=tenant, name="P", provider="stub", phone_number_id=PNID)
    starter_flows.flow_install(chatbot=bot, flow="menu")
    event = _store(bot, "oi", ts=1_700_000_000)

    run_at_once([lambda: engine.process_event(event.pk)] * 3)

    assert Message.objects.filter(direction="out").count() == 1
    event.refresh_from_db()
    assert event.state == InboundEvent.State.DONE
    assert event.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_messages_of_one_customer_on_two_workers_are_handled_in_order(tenant, monkeypatch):
    bot = bots.chatbot_create(tenant=tenant, name="P", provider="stub", phone_number_id=PNID)
    starter_flows.flow_install(chatbot=bot, flow="menu")
    first = _store(bot, "oi", ts=1_700_000_000)
    second = _store(bot, "1", ts=1_700_000_005)  # picks "Horário e endereço" from the menu

    # Widen the race: processing is slow, and the worker given the later message starts first.
    from chatbots.handlers import generic

    original = generic.MenuHandler.enter

    def slow_enter(self, ctx):
        time.sleep(0.2)
        return original(self, ctx)

    monkeypatch.setattr(generic.MenuHandler, "enter", slow_enter)
    run_at_once([lambda: engine.process_event(second.pk), lambda: engine.process_event(first.pk)])

    conv = Conversation.objects.get()
    inbound = list(
        conv.messages.filter(direction="in").order_by("id").values_list("text", flat=True)
    )
    assert inbound == ["oi", "1"]
    texts = bot_texts(conv)
    assert "Como posso ajudar" in texts[0]
    assert "segunda a sábado" in texts[1]
    assert conv.current_step == "informacoes"


def _store(bot, text, *, ts):
    from datetime import UTC, datetime

    from chatbots.wire import InboundMessage

    msg = InboundMessage(
        provider="meta",
        external_id=meta.wamid(),
        bot_key=PNID,
        timestamp=datetime.fromtimestamp(ts, UTC),
        type="text",
        from_phone=CUSTOMER,
        text=text,
    )
    return InboundEvent.objects.create(
        tenant_id=bot.tenant_id,
        provider="meta",
        chatbot=bot,
        external_id=msg.external_id,
        kind=InboundEvent.Kind.MESSAGE,
        contact_key=CUSTOMER,
        occurred_at=msg.timestamp,
        payload=msg.to_dict(),
    )


def test_the_contact_lock_refuses_to_run_outside_a_transaction():
    from django.db.transaction import TransactionManagementError

    # Outside a transaction PostgreSQL would release the lock at once: a silent no-op.
    with pytest.raises(TransactionManagementError, match="transaction.atomic"):
        inbound.lock_contact(chatbot_id=1, contact_key=CUSTOMER)


# --- Cost per message ------------------------------------------------------------------


def _queries_for_one_menu_message(bot, sender) -> int:
    _store_for = _store(bot, "oi", ts=1_700_000_000)
    InboundEvent.objects.filter(pk=_store_for.pk).update(contact_key=sender)
    payload = dict(_store_for.payload, from_phone=sender)
    InboundEvent.objects.filter(pk=_store_for.pk).update(payload=payload)
    with CaptureQueriesContext(connection) as ctx:
        engine.process_event(_store_for.pk)
    return len(ctx.captured_queries)


def test_processing_one_message_costs_the_same_queries_with_10_or_10000_customers(
    tenant, menu_bot, django_capture_on_commit_callbacks
):
    Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=f"55219{i:08d}", nome=f"C{i}") for i in range(10)
    )
    small = _queries_for_one_menu_message(menu_bot, "5531911110001")
    Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=f"55219{i:08d}", nome=f"C{i}") for i in range(10, 10_000)
    )
    large = _queries_for_one_menu_message(menu_bot, "5531911110002")

    assert small == large
    assert large <= 20, f"{large} queries to process one message"
