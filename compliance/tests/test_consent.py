"""Opt-out and opt-in: keywords typed on WhatsApp, the clash with the order flow's
"Cancelar", Meta's marketing preferences, and the proactive send check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbots.models import Conversation, InboundEvent, Message
from chatbots.outbox import send_to_customer
from chatbots.wire import Template, Text
from clientes.models import Cliente
from compliance import consent
from compliance.models import AuditLog, ConsentEvent, ConsentSettings
from compliance.tests.conftest import CUSTOMER, PNID
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests import meta
from tests.conversation import body_text
from tests.factories import MessageTemplateFactory


def _cliente() -> Cliente:
    return Cliente.objects.get(telefone=CUSTOMER)


def _order_up_to_confirmation(chat, loja):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['margherita'].pk}", "Pizza Margherita")
    chat.text("2")
    return chat.tap("pedido:finalizar", "Finalizar")


# --- Keywords ------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["SAIR", "sair", " Sáir! ", "PARAR", "stop", "Remover"])
def test_a_keyword_opts_out_from_any_step_and_says_how_to_come_back(chat, loja, typed):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")  # now at the product step

    sent = chat.text(typed)

    assert _cliente().optout_em is not None
    assert "VOLTAR" in body_text(sent[-1])
    event = ConsentEvent.objects.get()
    assert (event.opted_out, event.source) == (True, ConsentEvent.Source.KEYWORD)
    assert event.actor_label == f"cliente:{_cliente().pk}"
    assert AuditLog.objects.filter(action="consent.opt_out", object_id=str(_cliente().pk)).exists()
    # The step did not run: the conversation is still at the product step.
    assert Conversation.objects.get().current_step == "selecionar_produto"


def test_a_keyword_inside_a_sentence_is_not_an_opt_out(chat):
    chat.text("oi")
    chat.text("quero sair para comer pizza")
    assert _cliente().optout_em is None


def test_voltar_opts_back_in_and_the_history_keeps_both_changes(chat):
    chat.text("oi")
    chat.text("SAIR")
    sent = chat.text("voltar")

    assert _cliente().optout_em is None
    assert "SAIR" in body_text(sent[-1])
    history = list(ConsentEvent.objects.order_by("id").values_list("opted_out", "source"))
    assert history == [(True, "keyword"), (False, "keyword")]


def test_voltar_when_not_opted_out_goes_back_in_the_order_flow(chat, loja):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")

    sent = chat.text("voltar")

    assert Conversation.objects.get().current_step == "selecionar_categoria"
    assert sent[-1]["interactive"]["type"] == "list"
    assert not ConsentEvent.objects.exists()


def test_a_second_sair_changes_nothing_and_says_so(chat):
    chat.text("oi")
    chat.text("SAIR")
    sent = chat.text("sair")
    assert "já está fora" in body_text(sent[-1])
    assert ConsentEvent.objects.count() == 1


def test_a_tenant_may_use_its_own_keywords(chat, tenant):
    ConsentSettings.objects.create(
        tenant=tenant, optout_keywords=["CHEGA"], optin_keywords=["VOLTEI"]
    )
    chat.text("oi")

    chat.text("sair")
    assert _cliente().optout_em is None  # not this tenant's word
    sent = chat.text("chega")
    assert _cliente().optout_em is not None
    assert "VOLTEI" in body_text(sent[-1])


# --- The "Cancelar" clash ------------------------------------------------------------------


def test_the_cancelar_button_in_the_order_confirmation_cancels_the_order_and_does_not_opt_out(
    chat, loja
):
    _order_up_to_confirmation(chat, loja)

    sent = chat.tap("pedido:cancelar", "Cancelar")

    assert "Pedido cancelado" in body_text(sent[-1])
    assert _cliente().optout_em is None
    assert not ConsentEvent.objects.exists()
    cart = Pedido.objects.get()
    assert cart.status == StatusPedido.RASCUNHO and not cart.itens.exists()
    assert Conversation.objects.get().status == Conversation.Status.CLOSED


def test_cancelar_typed_during_an_order_cancels_the_order_and_tells_how_to_opt_out(chat, loja):
    _order_up_to_confirmation(chat, loja)

    sent = chat.text("cancelar")

    texts = [body_text(s) for s in sent]
    assert "Pedido cancelado" in texts[0]
    assert "envie SAIR" in texts[-1]
    assert _cliente().optout_em is None
    assert not Pedido.objects.get().itens.exists()


def test_cancelar_typed_with_an_open_cart_but_outside_the_flow_cancels_the_cart(chat, loja, bot):
    _order_up_to_confirmation(chat, loja)
    Conversation.objects.update(current_step="", status=Conversation.Status.CLOSED)

    chat.text("Cancelar")

    assert _cliente().optout_em is None
    assert not Pedido.objects.get().itens.exists()


def test_cancelar_typed_with_nothing_open_opts_out(chat):
    chat.text("oi")
    Conversation.objects.update(current_step="", status=Conversation.Status.CLOSED)

    sent = chat.text("CANCELAR")

    assert _cliente().optout_em is not None
    assert "VOLTAR" in body_text(sent[-1])


def test_cancelar_typed_while_a_person_attends_goes_to_the_person(chat):
    chat.text("oi")
    Conversation.objects.update(current_step="", status=Conversation.Status.HUMAN)

    sent = chat.text("cancelar")

    assert sent == []
    assert _cliente().optout_em is None


def test_sair_typed_while_a_person_attends_still_opts_out(chat):
    chat.text("oi")
    Conversation.objects.update(status=Conversation.Status.HUMAN)
    chat.text("SAIR")
    assert _cliente().optout_em is not None


# --- Meta's user_preferences webhook ---------------------------------------------------------


def _preference(value: str, ts: int, wa_id: str = CUSTOMER) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "user_preferences",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5511900000000",
                                "phone_number_id": PNID,
                            },
                            "contacts": [{"profile": {"name": "Maria"}, "wa_id": wa_id}],
                            "user_preferences": [
                                {
                                    "wa_id": wa_id,
                                    "detail": "User requested to stop marketing messages",
                                    "category": "marketing_messages",
                                    "value": value,
                                    "timestamp": ts,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


@pytest.fixture
def post_pref(chat):
    return chat.post


def test_a_meta_marketing_stop_opts_out_and_a_resume_opts_back_in(post_pref):
    now = int(timezone.now().timestamp())
    post_pref(_preference("stop", now - 60))

    cliente = _cliente()
    assert cliente.optout_em is not None
    event = ConsentEvent.objects.get()
    assert event.source == ConsentEvent.Source.META
    assert InboundEvent.objects.get().state == InboundEvent.State.DONE
    # It is not a customer message: no 24-hour window opened, nothing said to them.
    assert not Message.objects.exists()

    post_pref(_preference("resume", now))
    assert _cliente().optout_em is None


def test_a_retried_meta_preference_is_applied_once(post_pref):
    payload = _preference("stop", int(timezone.now().timestamp()))
    post_pref(payload)
    post_pref(payload)
    assert InboundEvent.objects.count() == 1
    assert ConsentEvent.objects.count() == 1


def test_a_late_meta_resume_older_than_a_sair_does_not_undo_it(chat, post_pref):
    chat.text("oi")
    chat.text("SAIR")
    an_hour_ago = int((timezone.now() - timedelta(hours=1)).timestamp())

    post_pref(_preference("resume", an_hour_ago))

    assert _cliente().optout_em is not None


# --- Asking the ledger before a proactive send ---------------------------------------------


@pytest.fixture
def reminder_template(bot):
    return MessageTemplateFactory(chatbot=bot, name="novidades", purpose="campaign")


def test_a_proactive_send_to_an_opted_out_customer_is_refused_and_recorded(
    bot, cliente, reminder_template
):
    consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN, actor="test")

    row = send_to_customer(
        chatbot=bot,
        cliente=cliente,
        message=Template(name="novidades"),
        reason="campaign",
        proactive=True,
    )

    assert row.status == Message.Status.FAILED
    assert row.error_code == "opted_out"
    assert "não receber mensagens proativas" in row.error_detail


def test_a_transactional_message_still_reaches_an_opted_out_customer(bot, cliente):
    consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.ADMIN, actor="test")
    Conversation.objects.create(
        tenant=bot.tenant, chatbot=bot, cliente=cliente, last_customer_message_at=timezone.now()
    )

    row = send_to_customer(
        chatbot=bot, cliente=cliente, message=Text(body="Seu pedido saiu para entrega")
    )

    assert row.status == Message.Status.QUEUED


def test_an_opt_out_seen_after_loading_the_customer_still_stops_the_send(
    bot, cliente, reminder_template
):
    stale = Cliente.objects.get(pk=cliente.pk)
    consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.API, actor="test")

    row = send_to_customer(
        chatbot=bot, cliente=stale, message=Template(name="novidades"), proactive=True
    )

    assert row.error_code == "opted_out"


# --- Consent through the API and the admin -----------------------------------------------------


def test_the_api_opts_out_by_any_phone_spelling_and_returns_the_history(key_client, cliente):
    response = key_client.post(
        "/api/compliance/consent/",
        {"phone": "+55 (11) 8765-4321", "opted_out": True},  # no ninth digit
        format="json",
    )

    assert response.status_code == 200, response.content
    (state,) = response.json()
    assert state["opted_out"] is True
    assert state["history"][0]["source"] == "api"
    assert ConsentEvent.objects.get().actor_label.startswith("api-key:")


def test_the_admin_action_opts_customers_out(manager_client, cliente):
    response = manager_client.post(
        "/admin/clientes/cliente/",
        {"action": "optout_customers", "_selected_action": [cliente.pk]},
    )
    assert response.status_code == 302
    cliente.refresh_from_db()
    assert cliente.optout_em is not None
    assert ConsentEvent.objects.get().source == ConsentEvent.Source.ADMIN


# --- The rule, at the interceptor ----------------------------------------------------------


def _context(bot, cliente, *, text="", reply_id="", step_path=""):
    from chatbots.handlers.base import Context
    from chatbots.models import Step
    from chatbots.wire import InboundMessage

    conversation = Conversation.objects.create(tenant=bot.tenant, chatbot=bot, cliente=cliente)
    step = Step(chatbot=bot, code="x", handler_path=step_path) if step_path else None
    message = InboundMessage(
        provider="meta",
        external_id=meta.wamid(),
        bot_key=PNID,
        timestamp=timezone.now(),
        type="interactive" if reply_id else "text",
        text=text,
        reply_id=reply_id,
    )
    return Context(
        chatbot=bot,
        step=step,
        conversation=conversation,
        cliente=cliente,
        message=message,
        state={},
    )


def test_cancelar_typed_at_an_appointment_step_goes_to_that_step(bot, cliente):
    from chatbots.interceptors.consent import OptOutKeywords

    ctx = _context(
        bot,
        cliente,
        text="cancelar",
        step_path="chatbots.handlers.agenda.ConfirmarAgendamentoHandler",
    )

    assert OptOutKeywords().intercept(ctx) is None
    cliente.refresh_from_db()
    assert cliente.optout_em is None


def test_a_template_button_with_our_payload_opts_out(bot, cliente):
    from chatbots.interceptors.consent import OptOutKeywords

    reply = OptOutKeywords().intercept(
        _context(bot, cliente, text="Não quero mais", reply_id="compliance:sair")
    )

    assert "VOLTAR" in reply.messages[0].body
    cliente.refresh_from_db()
    assert cliente.optout_em is not None
