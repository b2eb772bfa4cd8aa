"""An order typed outside the order steps ("quero uma pizza calabresa" as the first message, at
another flow's step, or back after a conversation ended) lands on what was named, through the
webhook (chatbots.handlers.pedidos.intake). The common paths are scripts of the conversation
corpus (tests/conversations/*primeira_mensagem*)."""

from __future__ import annotations

from chatbots import bots
from chatbots.models import Conversation
from chatbots.tests.pedidos_support import fill_cart
from pedidos.models import Pedido, StatusPedido
from tests.conversation import body_text
from tests.factories import ChatbotFactory


def test_a_customer_back_with_a_cart_adds_what_they_name_to_it(chat_with, tenant, loja):
    chat = chat_with(ChatbotFactory(tenant=tenant, flow="pedidos"))
    fill_cart(chat, loja, product="calabresa", quantity="1")
    # The conversation ended (closed); the cart stays open for when the customer is back.
    Conversation.objects.update(status=Conversation.Status.CLOSED, current_step="", state={})

    sent = chat.text("quero um suco de laranja")
    assert "Quantas unidades de *Suco de Laranja*" in body_text(sent[-1])
    sent = chat.text("2")

    summary = body_text(sent[-1])
    assert "1 × Pizza Calabresa" in summary
    assert "2 × Suco de Laranja" in summary
    assert Pedido.objects.filter(status=StatusPedido.RASCUNHO).count() == 1


def test_a_product_named_at_a_menu_step_opens_the_order_flow_on_it(chat_with, tenant, loja):
    bot = ChatbotFactory(tenant=tenant, flow="pedidos")
    bots.step_create(
        chatbot=bot,
        code="boas_vindas",
        handler_path="chatbots.handlers.generic.MenuHandler",
        order=0,
        config={
            "text": "Bem-vinda! O que deseja?",
            "options": [{"title": "Fazer pedido", "next": "inicio"}],
        },
    )
    chat = chat_with(bot)
    assert "Bem-vinda" in body_text(chat.text("oi")[-1])

    sent = chat.text("quero uma pizza calabresa")

    assert "Quantas unidades de *Pizza Calabresa*" in body_text(sent[-1])
    assert chat.conversation.current_step == "informar_quantidade"


def test_a_bot_without_the_order_flow_does_not_take_orders(chat_with, tenant, loja):
    chat = chat_with(ChatbotFactory(tenant=tenant, flow="menu"))

    sent = chat.text("quero uma pizza calabresa")

    assert "Quantas unidades" not in " ".join(body_text(s) for s in sent)
    assert chat.conversation.current_step == "inicio"
    assert not Pedido.objects.exists()
