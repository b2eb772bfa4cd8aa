"""The flow engine end to end: webhook -> processing -> queued replies, once and in order."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from django.test import Client

from chatbots import engine, inbound
from chatbots.models import Conversation, InboundEvent, Message
from tests import meta
from tests.concurrency import run_at_once
from tests.factories import ChatbotFactory, InboundEventFactory

SECRET = "engine-test-app-secret"
PNID = "1000001"
CUSTOMER = "5511987654321"


@pytest.fixture
def menu_bot(tenant):
    return ChatbotFactory(
        tenant=tenant,
        name="Padaria",
        provider="stub",
        phone_number_id=PNID,
        access_token="",
        app_secret=SECRET,
        verify_token="vt",
        flow="menu",
    )


def bot_texts(conversation) -> list[str]:
    return list(
        conversation.messages.filter(direction=Message.Direction.OUT)
        .order_by("id")
        .values_list("text", flat=True)
    )


@pytest.fixture
def chat(chat_with, menu_bot):
    return chat_with(menu_bot, phone=CUSTOMER)


def test_it_greets_a_new_customer_with_the_first_step_menu(chat, menu_bot):
    chat.text("oi")  # from Maria

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


def test_a_tap_moves_to_the_chosen_step_and_says_and_goes_on(chat, menu_bot):
    chat.text("oi")
    chat.tap("info", "Horário e endereço")

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.current_step == "informacoes"
    assert "segunda a sábado" in bot_texts(conv)[-1]


def test_typing_the_option_number_works_like_a_tap(chat, menu_bot):
    chat.text("oi")
    chat.text("3")

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.CLOSED
    assert "Obrigado pelo contato" in bot_texts(conv)[-1]


def test_menu_keyword_restarts_the_flow_from_any_step(chat, menu_bot):
    chat.text("oi")
    chat.tap("info", "Horário e endereço")
    chat.text("MENU")

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.current_step == "inicio"
    assert "Como posso ajudar" in bot_texts(conv)[-1]


def test_the_bot_stays_quiet_while_a_person_attends(chat, menu_bot):
    chat.text("oi")
    chat.tap("humano", "Falar com atendente")
    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.WAITING
    replies_before = len(bot_texts(conv))

    chat.text("alô? menu")
    chat.text("menu")

    conv.refresh_from_db()
    assert len(bot_texts(conv)) == replies_before
    assert conv.messages.filter(direction="in").count() == 4  # still recorded for the agent


def test_a_closed_conversation_starts_over(chat, menu_bot):
    chat.text("oi")
    chat.text("encerrar")
    chat.text("oi de novo")

    conv = Conversation.objects.get(chatbot=menu_bot)
    assert conv.status == Conversation.Status.BOT
    assert conv.current_step == "inicio"


def test_a_failing_handler_apologizes_and_leaves_nothing_half_saved(chat, menu_bot, monkeypatch):
    chat.text("oi")
    conv = Conversation.objects.get(chatbot=menu_bot)
    conv.state = {"kept": True}
    conv.save()

    from chatbots.handlers import generic

    def boom(self, ctx):
        raise RuntimeError("database of prices unreachable")

    monkeypatch.setattr(generic.MenuHandler, "handle", boom)
    chat.text("1")

    conv.refresh_from_db()
    assert conv.current_step == "inicio"
    assert conv.state == {"kept": True}
    assert "tive um problema" in bot_texts(conv)[-1]
    event = InboundEvent.objects.filter(kind="message").order_by("-id").first()
    assert event.state == InboundEvent.State.FAILED
    assert "database of prices unreachable" in event.last_error


def test_reactions_are_recorded_but_do_not_drive_the_flow(chat, menu_bot):
    chat.text("oi")
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
    chat.post(payload)
    conv = Conversation.objects.get(chatbot=menu_bot)
    assert len(bot_texts(conv)) == 1
    assert conv.messages.filter(direction="in", type="reaction").count() == 1


# --- Exactly once and in order, with several workers -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_message_delivered_three_times_concurrently_is_answered_once(tenant, celery_eager):
    ChatbotFactory(
        tenant=tenant,
        name="P",
        provider="stub",
        phone_number_id=PNID,
        app_secret=SECRET,
        flow="menu",
    )
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
    bot = ChatbotFactory(
        tenant=tenant, name="P", provider="stub", phone_number_id=PNID, flow="menu"
    )
    event = _store(bot, "oi", ts=1_700_000_000)

    run_at_once([lambda: engine.process_event(event.pk)] * 3)

    assert Message.objects.filter(direction="out").count() == 1
    event.refresh_from_db()
    assert event.state == InboundEvent.State.DONE
    assert event.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_two_messages_of_one_customer_on_two_workers_are_handled_in_order(tenant, monkeypatch):
    bot = ChatbotFactory(
        tenant=tenant, name="P", provider="stub", phone_number_id=PNID, flow="menu"
    )
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
    return InboundEventFactory(
        chatbot=bot, text=text, sender=CUSTOMER, occurred_at=datetime.fromtimestamp(ts, UTC)
    )


def test_the_contact_lock_refuses_to_run_outside_a_transaction():
    from django.db.transaction import TransactionManagementError

    # Outside a transaction PostgreSQL would release the lock at once: a silent no-op.
    with pytest.raises(TransactionManagementError, match="transaction.atomic"):
        inbound.lock_contact(chatbot_id=1, contact_key=CUSTOMER)
