"""The order flow driven through the webhook, as a customer would, with Meta faked on loopback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbots.models import Conversation, Message
from chatbots.tests.pedidos_support import pickup_by_card
from chatbots.wire import LIST_ROWS_MAX
from pedidos import services as pedidos
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests import meta
from tests.conversation import body_text, next_timestamp, rows
from tests.factories import ChatbotFactory

SECRET = "pedidos-flow-secret"
PNID = "2000001"
CUSTOMER = "5511987654321"


@pytest.fixture
def bot(tenant, loja):
    return ChatbotFactory(
        tenant=tenant, name="Pizzaria", phone_number_id=PNID, app_secret=SECRET, flow="pedidos"
    )


@pytest.fixture
def chat(chat_with, bot):
    return chat_with(bot, phone=CUSTOMER)


def test_an_order_of_two_a_and_one_b_ends_as_one_confirmed_pedido(chat, loja, tenant):
    sent = chat.text("oi")
    assert "Vamos fazer seu pedido" in body_text(sent[0])
    categorias = sent[-1]
    assert categorias["interactive"]["type"] == "list"
    # The categories, then the way to a person (room is left: 10 rows at most).
    assert [r["title"] for r in rows(categorias)] == ["Pizzas", "Bebidas", "Falar com atendente"]

    sent = chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    produtos = rows(sent[-1])
    assert produtos[0]["title"] == "Pizza Calabresa"
    assert "R$ 47,90" in produtos[0]["description"]

    sent = chat.pick(f"prod:{loja['margherita'].pk}", "Pizza Margherita")
    assert "Quantas unidades de *Pizza Margherita*" in body_text(sent[-1])

    sent = chat.text("2")
    assert "2 × Pizza Margherita" in body_text(sent[-1])
    assert [b["reply"]["title"] for b in sent[-1]["interactive"]["action"]["buttons"]] == [
        "Adicionar mais",
        "Finalizar",
        "Cancelar",
    ]

    chat.tap("pedido:adicionar", "Adicionar mais")
    chat.text("bebidas")  # typed, not tapped
    chat.text("suco")  # part of the name, accents and case ignored
    chat.text("1")
    sent = pickup_by_card(chat)
    assert "Total: R$ 109,30" in body_text(sent[-1])
    assert "Retirada no local" in body_text(sent[-1])
    assert "Pagamento: Cartão na retirada" in body_text(sent[-1])

    sent = chat.tap("pedido:confirmar", "Confirmar")
    pedido = Pedido.objects.get(tenant=tenant)
    assert pedido.status == StatusPedido.CONFIRMADO
    assert pedido.total == Decimal("109.30")
    assert (pedido.modo_entrega, pedido.forma_pagamento) == ("retirada", "cartao")
    assert sorted((i.produto.nome, i.quantidade) for i in pedido.itens.all()) == [
        ("Pizza Margherita", 2),
        ("Suco de Laranja", 1),
    ]
    assert f"Pedido nº {pedido.numero} confirmado" in body_text(sent[-1])
    assert Conversation.objects.get().status == Conversation.Status.CLOSED


@pytest.mark.parametrize("wrong", ["0", "-1", "dois", "10000", "1.5"])
def test_a_wrong_quantity_is_re_prompted_and_the_cart_is_kept(chat, loja, tenant, wrong):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa")
    chat.text("1")  # one calabresa in the cart
    chat.tap("pedido:adicionar", "Adicionar mais")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['margherita'].pk}", "Pizza Margherita")

    sent = chat.text(wrong)

    assert len(sent) == 1
    assert "número" in body_text(sent[0]).lower() or "quantidade" in body_text(sent[0]).lower()
    conv = Conversation.objects.get()
    assert conv.current_step == "informar_quantidade"
    cart = Pedido.objects.get(tenant=tenant, status=StatusPedido.RASCUNHO)
    assert [(i.produto.nome, i.quantidade) for i in cart.itens.all()] == [("Pizza Calabresa", 1)]

    sent = chat.text("3")  # and a right answer still works
    assert "3 × Pizza Margherita" in body_text(sent[-1])


def test_lists_never_exceed_whatsapps_limits_however_many_products(chat, loja, tenant):
    for i in range(37):
        pedidos.produto_create(
            tenant=tenant,
            categoria=loja["bebidas"],
            nome=f"Bebida número {i:02d} com um nome bem comprido",
            preco=Decimal("5.00"),
        )
    chat.text("oi")
    seen = []
    sent = chat.pick(f"cat:{loja['bebidas'].pk}", "Bebidas")
    for _page in range(10):
        listing = rows(sent[-1])
        assert len(listing) <= LIST_ROWS_MAX
        assert all(len(r["title"]) <= 24 for r in listing)
        assert all(len(r.get("description", "")) <= 72 for r in listing)
        seen += [r["id"] for r in listing if r["id"].startswith("prod:") and r["id"][5:].isdigit()]
        more = [r for r in listing if r["id"] == "prod:mais"]
        if not more:
            break
        sent = chat.pick("prod:mais", "Ver mais")
    assert len(set(seen)) == 38  # every product reachable, none repeated


def test_a_customer_who_comes_back_mid_order_resumes_the_cart(chat, loja, tenant):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa")
    chat.text("2")
    sent = chat.text("menu")  # starts over from the beginning...
    assert "pedido em andamento" in body_text(sent[0])
    assert "2 × Pizza Calabresa" in body_text(sent[-1])  # ...and finds the cart


def test_cancel_empties_the_cart_and_says_so(chat, loja, tenant):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa")
    chat.text("2")
    sent = chat.tap("pedido:cancelar", "Cancelar")
    assert "carrinho esvaziado" in body_text(sent[-1])
    cart = Pedido.objects.filter(tenant=tenant, status=StatusPedido.RASCUNHO).first()
    assert cart is None or not cart.itens.exists()
    assert not Pedido.objects.filter(tenant=tenant, status=StatusPedido.CONFIRMADO).exists()


def test_a_whatsapp_catalog_cart_becomes_an_order_and_names_unknown_items(chat, loja, tenant):
    pedidos.produto_update(produto=loja["margherita"], retailer_id="SKU-MARG")
    payload = meta.envelope(
        PNID,
        contacts=[{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}],
        messages=[
            {
                "from": CUSTOMER,
                "id": meta.wamid(),
                "timestamp": str(next_timestamp()),
                "type": "order",
                "order": {
                    "catalog_id": "CAT1",
                    "text": "",
                    "product_items": [
                        {
                            "product_retailer_id": "SKU-MARG",
                            "quantity": 3,
                            "item_price": 1,
                            "currency": "BRL",
                        },
                        {
                            "product_retailer_id": "SKU-GONE",
                            "quantity": 1,
                            "item_price": 1,
                            "currency": "BRL",
                        },
                    ],
                },
            }
        ],
    )
    sent = chat.post(payload)
    pedido = Pedido.objects.get(tenant=tenant, status=StatusPedido.CONFIRMADO)
    assert pedido.total == Decimal("149.70")  # our price, not the one in the payload
    assert f"pedido nº {pedido.numero}" in body_text(sent[-1])
    assert "SKU-GONE" in body_text(sent[-1])


def test_a_status_change_by_staff_notifies_the_customer_once(
    chat, loja, tenant, fake_graph, celery_eager, django_capture_on_commit_callbacks
):
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa")
    chat.text("1")
    pickup_by_card(chat)
    chat.tap("pedido:confirmar", "Confirmar")
    pedido = Pedido.objects.get(tenant=tenant, status=StatusPedido.CONFIRMADO)
    before = len(fake_graph.sends)

    with django_capture_on_commit_callbacks(execute=True):
        pedidos.pedido_change_status(pedido=pedido, status=StatusPedido.EM_PREPARO)

    notices = fake_graph.sends[before:]
    assert len(notices) == 1
    assert str(pedido.numero) in body_text(notices[0].json)
    assert Message.objects.filter(direction="out", status=Message.Status.SENT).count() >= 1
