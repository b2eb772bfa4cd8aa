"""What customers say beside the question mid-order, through the webhook: a greeting, a
question about the business, asking for a person, "cancelar" with nothing to cancel.
None of them may end in "Não encontrei essa categoria"."""

from __future__ import annotations

import pytest

from chatbots.models import Conversation
from chatbots.tests.pedidos_support import fill_cart
from pedidos import checkout
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.conversation import body_text, buttons, rows
from tests.factories import ChatbotFactory

PNID = "2000011"
NOT_FOUND = "Não encontrei essa categoria"


@pytest.fixture
def bot(tenant, loja):
    return ChatbotFactory(
        tenant=tenant, name="Pizzaria", phone_number_id=PNID, app_secret="s", flow="pedidos"
    )


@pytest.fixture
def chat(chat_with, bot):
    return chat_with(bot)


def _said(sent) -> str:
    return "\n".join(body_text(s) for s in sent)


def _cart_items(tenant):
    cart = Pedido.objects.get(tenant=tenant, status=StatusPedido.RASCUNHO)
    return [(i.produto.nome, i.quantidade) for i in cart.itens.all()]


# --- "oi" mid-order ------------------------------------------------------------------------


def test_oi_at_the_categories_with_items_offers_to_continue_or_start_over(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:adicionar", "Adicionar mais")  # back at the categories

    sent = chat.text("oi")

    assert NOT_FOUND not in _said(sent)
    assert "pedido em andamento" in body_text(sent[-1])
    assert "2 × Pizza Margherita" in body_text(sent[-1])
    assert [t for _i, t in buttons(sent[-1])] == [
        "Continuar pedido",
        "Começar de novo",
        "Falar com atendente",
    ]

    sent = chat.tap("pedido:continuar", "Continuar pedido")
    # "oi" restarted the flow (a greeting anywhere offers the start again), so the customer
    # carries on from their cart, which is kept.
    assert "2 × Pizza Margherita" in body_text(sent[-1])
    assert "Adicionar mais" in [t for _i, t in buttons(sent[-1])]
    assert _cart_items(tenant) == [("Pizza Margherita", 2)]


def test_starting_over_empties_the_cart_and_shows_the_menu(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:adicionar", "Adicionar mais")
    chat.text("Olá")

    sent = chat.tap("pedido:recomecar", "Começar de novo")

    assert "carrinho esvaziado" in _said(sent)
    assert _cart_items(tenant) == []
    assert Conversation.objects.get().current_step == "selecionar_categoria"


def test_oi_with_an_empty_cart_greets_again(chat, loja):
    chat.text("oi")
    sent = chat.text("bom dia")
    assert "Vamos fazer seu pedido" in body_text(sent[0])
    assert NOT_FOUND not in _said(sent)


# --- Questions -----------------------------------------------------------------------------


def test_the_stores_address_is_answered_from_the_settings_and_the_step_asked_again(
    chat, loja, tenant
):
    checkout.configuracao_save(tenant=tenant, endereco_loja="Rua das Palmeiras, 45 – Centro")
    chat.text("oi")

    sent = chat.text("qual o endereço?")

    assert "Rua das Palmeiras, 45" in body_text(sent[0])
    assert NOT_FOUND not in _said(sent)
    assert rows(sent[-1])[0]["title"] == "Pizzas"  # and the categories again
    assert Conversation.objects.get().current_step == "selecionar_categoria"


def test_an_address_question_without_an_address_configured_offers_a_person(chat, loja):
    chat.text("oi")

    sent = chat.text("onde fica a loja?")

    assert NOT_FOUND not in _said(sent)
    assert "pessoa da equipe" in body_text(sent[0])
    assert ("pedido:atendente", "Falar com atendente") in buttons(sent[0])


def test_opening_hours_and_fees_are_answered_mid_order(chat, loja, tenant):
    checkout.configuracao_save(tenant=tenant, horarios={"seg-dom": "00:00-00:00"})
    checkout.taxa_entrega_create(tenant=tenant, bairro="Centro", valor="5.00")
    fill_cart(chat, loja)

    hours = chat.text("que horas vocês fecham?")
    fees = chat.text("qual a taxa de entrega?")

    assert "seg: 00:00-00:00" in body_text(hours[0])
    assert "Estamos abertos agora" in body_text(hours[0])
    assert "Centro: R$ 5,00" in body_text(fees[0])
    assert "Quer adicionar mais alguma coisa?" in body_text(fees[-1])  # the cart again


def test_a_question_the_bot_cannot_answer_offers_a_person_never_a_dead_end(chat, loja):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")

    sent = chat.text("vocês têm estacionamento?")

    assert "Não encontrei" not in _said(sent)
    assert "não sei responder" in body_text(sent[-1])
    assert [t for _i, t in buttons(sent[-1])] == ["Falar com atendente", "Continuar pedido"]


# --- A person ------------------------------------------------------------------------------


def test_asking_for_a_person_mid_order_hands_over_and_keeps_the_cart(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:adicionar", "Adicionar mais")

    sent = chat.text("quero falar com um atendente")

    assert NOT_FOUND not in _said(sent)
    # The request for a person is taken before the step, from any flow (the handoff text is
    # the bot's, chatbots.interceptors.understanding.PersonRequest).
    assert "atendente" in body_text(sent[-1])
    conv = Conversation.objects.get()
    assert conv.status == Conversation.Status.WAITING
    assert _cart_items(tenant) == [("Pizza Margherita", 2)]

    assert chat.text("oi?") == []  # the bot stays quiet while a person attends


def test_every_list_of_the_order_flow_offers_a_person_and_the_row_hands_over(chat, loja):
    sent = chat.text("oi")
    assert rows(sent[-1])[-1] == {"id": "pedido:atendente", "title": "Falar com atendente"}
    sent = chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    assert rows(sent[-1])[-1]["id"] == "pedido:atendente"

    sent = chat.pick("pedido:atendente", "Falar com atendente")

    assert "Vou chamar uma pessoa" in body_text(sent[-2])
    assert body_text(sent[-1]).startswith(
        "Você é o número 1 na fila de Atendimento."
    )  # the queue's line
    assert Conversation.objects.get().status == Conversation.Status.WAITING


def test_the_cart_buttons_say_how_to_reach_a_person(chat, loja):
    sent = fill_cart(chat, loja)
    assert sent[-1]["interactive"]["footer"]["text"] == (
        "Para falar com uma pessoa, digite atendente."
    )


# --- "cancelar" ----------------------------------------------------------------------------


def test_cancelar_with_an_empty_cart_cancels_nothing_and_offers_the_menu(chat, loja, tenant):
    chat.text("oi")

    sent = chat.text("cancelar")

    said = _said(sent)
    assert "Pedido cancelado" not in said and "carrinho esvaziado" not in said
    assert "nenhum pedido em andamento" in said
    assert any(r["title"] == "Pizzas" for s in sent if s["type"] == "interactive" for r in rows(s))
    conv = Conversation.objects.get()
    assert conv.status == Conversation.Status.BOT
    assert conv.current_step == "selecionar_categoria"


def test_a_stale_cancelar_button_with_an_empty_cart_cancels_nothing(chat, loja, tenant):
    fill_cart(chat, loja)
    chat.tap("pedido:cancelar", "Cancelar")  # cancels: the conversation ends
    chat.text("oi")

    sent = chat.tap("pedido:cancelar", "Cancelar")  # the old button, tapped again

    assert "nenhum pedido em andamento" in _said(sent)
    assert Conversation.objects.get().status == Conversation.Status.BOT


def test_coming_back_to_a_cart_offers_to_continue_or_start_over(chat, loja, tenant):
    fill_cart(chat, loja)
    sent = chat.text("menu")  # the flow starts again from its greeting

    assert "pedido em andamento" in body_text(sent[-1])
    assert [t for _i, t in buttons(sent[-1])][:2] == ["Continuar pedido", "Começar de novo"]
    sent = chat.tap("pedido:continuar", "Continuar pedido")
    assert ("pedido:finalizar", "Finalizar") in buttons(sent[-1])
    assert _cart_items(tenant) == [("Pizza Margherita", 2)]
