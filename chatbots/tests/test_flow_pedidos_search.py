"""Finding products by what customers type, through the webhook: partial names, synonyms,
typos, a product typed where a category is asked, and a choice when several fit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbots.models import Conversation
from chatbots.tests.pedidos_support import fill_cart
from pedidos import services
from pedidos.models import Pedido, Produto
from tests.conversation import body_text, rows
from tests.factories import ChatbotFactory

PNID = "2000012"


@pytest.fixture
def bot(tenant, loja):
    services.produto_create(
        tenant=tenant,
        categoria=loja["bebidas"],
        nome="Coca-Cola 2L",
        preco=Decimal("12.00"),
        sinonimos="refri, refrigerante",
    )
    services.produto_create(
        tenant=tenant,
        categoria=loja["bebidas"],
        nome="Guaraná Antarctica 2L",
        preco=Decimal("10.00"),
        sinonimos="refrigerante",
    )
    return ChatbotFactory(
        tenant=tenant, name="Pizzaria", phone_number_id=PNID, app_secret="s", flow="pedidos"
    )


@pytest.fixture
def chat(chat_with, bot):
    return chat_with(bot)


def _step() -> str:
    return Conversation.objects.get().current_step


@pytest.mark.parametrize(
    "typed, product",
    [
        ("coca", "Coca-Cola 2L"),
        ("Coca cola", "Coca-Cola 2L"),
        ("quero uma coca", "Coca-Cola 2L"),
        ("refri", "Coca-Cola 2L"),  # a synonym of one product only
        ("calabreza", "Pizza Calabresa"),  # one letter wrong
        ("pizza margerita", "Pizza Margherita"),  # one letter missing
        ("SUCO DE LARANJA", "Suco de Laranja"),
    ],
)
def test_a_product_typed_at_the_categories_goes_straight_to_its_quantity(chat, typed, product):
    chat.text("oi")

    sent = chat.text(typed)

    assert f"Quantas unidades de *{product}*" in body_text(sent[-1])
    assert _step() == "informar_quantidade"


def test_a_category_name_still_opens_the_category(chat):
    chat.text("oi")
    sent = chat.text("bebida")
    assert "*Bebidas*" in body_text(sent[-1])
    assert _step() == "selecionar_produto"


def test_several_products_that_fit_are_offered_as_a_list(chat, tenant):
    chat.text("oi")

    sent = chat.text("refrigerante")

    offered = [r["title"] for r in rows(sent[-1])]
    assert offered[:2] == ["Coca-Cola 2L", "Guaraná Antarctica 2L"]
    assert "refrigerante" in body_text(sent[-1])
    assert "Voltar" in offered and "Falar com atendente" in offered

    sent = chat.text("2")  # the second of the list shown
    assert "Quantas unidades de *Guaraná Antarctica 2L*" in body_text(sent[-1])
    chat.text("3")
    cart = Pedido.objects.get(tenant=tenant)
    assert [(i.produto.nome, i.quantidade) for i in cart.itens.all()] == [
        ("Guaraná Antarctica 2L", 3)
    ]


def test_a_product_of_another_category_is_found_from_a_category_list(chat, loja):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")

    sent = chat.text("suco")

    assert "Quantas unidades de *Suco de Laranja*" in body_text(sent[-1])


def test_a_product_typed_at_the_cart_is_added_next(chat, loja, tenant):
    fill_cart(chat, loja)

    sent = chat.text("quero uma coca também")

    assert "Quantas unidades de *Coca-Cola 2L*" in body_text(sent[-1])
    sent = chat.text("1")
    assert "1 × Coca-Cola 2L" in body_text(sent[-1])
    assert "2 × Pizza Margherita" in body_text(sent[-1])


def test_an_inactive_product_is_never_found(chat, tenant):
    Produto.objects.filter(tenant=tenant, nome="Coca-Cola 2L").update(ativo=False)
    chat.text("oi")

    sent = chat.text("coca")

    assert "Não encontrei" in body_text(sent[0])
    assert _step() == "selecionar_categoria"
