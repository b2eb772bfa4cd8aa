"""The order flow driven through the webhook, as a customer would, with Meta faked on loopback."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from chatbots import bots, starter_flows
from chatbots.models import Conversation, Message
from chatbots.wire import LIST_ROWS_MAX
from pedidos import services as pedidos
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests import meta

SECRET = "pedidos-flow-secret"
PNID = "2000001"
CUSTOMER = "5511987654321"


@pytest.fixture
def loja(tenant):
    pizzas = pedidos.categoria_create(tenant=tenant, nome="Pizzas", ordem=1)
    bebidas = pedidos.categoria_create(tenant=tenant, nome="Bebidas", ordem=2)
    return {
        "pizzas": pizzas,
        "bebidas": bebidas,
        "margherita": pedidos.produto_create(
            tenant=tenant, categoria=pizzas, nome="Pizza Margherita", preco=Decimal("49.90")
        ),
        "calabresa": pedidos.produto_create(
            tenant=tenant, categoria=pizzas, nome="Pizza Calabresa", preco=Decimal("47.90")
        ),
        "suco": pedidos.produto_create(
            tenant=tenant, categoria=bebidas, nome="Suco de Laranja", preco=Decimal("9.50")
        ),
    }


@pytest.fixture
def bot(tenant, loja):
    chatbot = bots.chatbot_create(
        tenant=tenant,
        name="Pizzaria",
        provider="meta",
        phone_number_id=PNID,
        access_token="test-token",
        app_secret=SECRET,
    )
    starter_flows.flow_install(chatbot=chatbot, flow="pedidos")
    return chatbot


@pytest.fixture
def say(client, celery_eager, django_capture_on_commit_callbacks, bot, fake_graph):
    """Send one customer message through the webhook; return what the bot sent to Meta."""

    def _say(payload):
        before = len(fake_graph.sends)
        with django_capture_on_commit_callbacks(execute=True):
            response = meta.post(client, payload, SECRET)
        assert response.status_code == 200
        return [r.json for r in fake_graph.sends[before:]]

    return _say


def text(body):
    return meta.text_message(PNID, sender=CUSTOMER, body=body, ts=_clock())


def tap_list(reply_id, title):
    return meta.list_reply(PNID, sender=CUSTOMER, reply_id=reply_id, title=title, ts=_clock())


def tap_button(reply_id, title):
    return meta.button_reply(PNID, sender=CUSTOMER, reply_id=reply_id, title=title, ts=_clock())


_t = [int(time.time())]


def _clock():
    _t[0] += 1
    return _t[0]


def rows(body):
    return [r for s in body["interactive"]["action"]["sections"] for r in s["rows"]]


def body_text(body):
    if body["type"] == "text":
        return body["text"]["body"]
    return body["interactive"]["body"]["text"]


def test_an_order_of_two_a_and_one_b_ends_as_one_confirmed_pedido(say, loja, tenant):
    sent = say(text("oi"))
    assert "Vamos fazer seu pedido" in body_text(sent[0])
    categorias = sent[-1]
    assert categorias["interactive"]["type"] == "list"
    assert [r["title"] for r in rows(categorias)] == ["Pizzas", "Bebidas"]

    sent = say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    produtos = rows(sent[-1])
    assert produtos[0]["title"] == "Pizza Calabresa"
    assert "R$ 47,90" in produtos[0]["description"]

    sent = say(tap_list(f"prod:{loja['margherita'].pk}", "Pizza Margherita"))
    assert "Quantas unidades de *Pizza Margherita*" in body_text(sent[-1])

    sent = say(text("2"))
    assert "2 × Pizza Margherita" in body_text(sent[-1])
    assert [b["reply"]["title"] for b in sent[-1]["interactive"]["action"]["buttons"]] == [
        "Adicionar mais",
        "Finalizar",
        "Cancelar",
    ]

    say(tap_button("pedido:adicionar", "Adicionar mais"))
    say(text("bebidas"))  # typed, not tapped
    say(text("suco"))  # part of the name, accents and case ignored
    say(text("1"))
    sent = say(tap_button("pedido:finalizar", "Finalizar"))
    assert "Total: R$ 109,30" in body_text(sent[-1])

    sent = say(tap_button("pedido:confirmar", "Confirmar"))
    pedido = Pedido.objects.get(tenant=tenant)
    assert pedido.status == StatusPedido.CONFIRMADO
    assert pedido.total == Decimal("109.30")
    assert sorted((i.produto.nome, i.quantidade) for i in pedido.itens.all()) == [
        ("Pizza Margherita", 2),
        ("Suco de Laranja", 1),
    ]
    assert f"Pedido nº {pedido.numero} confirmado" in body_text(sent[-1])
    assert Conversation.objects.get().status == Conversation.Status.CLOSED


@pytest.mark.parametrize("wrong", ["0", "-1", "dois", "10000", "1.5"])
def test_a_wrong_quantity_is_re_prompted_and_the_cart_is_kept(say, loja, tenant, wrong):
    say(text("oi"))
    say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    say(tap_list(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa"))
    say(text("1"))  # one calabresa in the cart
    say(tap_button("pedido:adicionar", "Adicionar mais"))
    say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    say(tap_list(f"prod:{loja['margherita'].pk}", "Pizza Margherita"))

    sent = say(text(wrong))

    assert len(sent) == 1
    assert "número" in body_text(sent[0]).lower() or "quantidade" in body_text(sent[0]).lower()
    conv = Conversation.objects.get()
    assert conv.current_step == "informar_quantidade"
    cart = Pedido.objects.get(tenant=tenant, status=StatusPedido.RASCUNHO)
    assert [(i.produto.nome, i.quantidade) for i in cart.itens.all()] == [("Pizza Calabresa", 1)]

    sent = say(text("3"))  # and a right answer still works
    assert "3 × Pizza Margherita" in body_text(sent[-1])


def test_lists_never_exceed_whatsapps_limits_however_many_products(say, loja, tenant):
    for i in range(37):
        pedidos.produto_create(
            tenant=tenant,
            categoria=loja["bebidas"],
            nome=f"Bebida número {i:02d} com um nome bem comprido",
            preco=Decimal("5.00"),
        )
    say(text("oi"))
    seen = []
    sent = say(tap_list(f"cat:{loja['bebidas'].pk}", "Bebidas"))
    for _page in range(10):
        listing = rows(sent[-1])
        assert len(listing) <= LIST_ROWS_MAX
        assert all(len(r["title"]) <= 24 for r in listing)
        assert all(len(r.get("description", "")) <= 72 for r in listing)
        seen += [r["id"] for r in listing if r["id"] not in ("prod:mais", "prod:voltar")]
        more = [r for r in listing if r["id"] == "prod:mais"]
        if not more:
            break
        sent = say(tap_list("prod:mais", "Ver mais"))
    assert len(set(seen)) == 38  # every product reachable, none repeated


def test_a_customer_who_comes_back_mid_order_resumes_the_cart(say, loja, tenant):
    say(text("oi"))
    say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    say(tap_list(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa"))
    say(text("2"))
    sent = say(text("menu"))  # starts over from the beginning...
    assert "pedido em andamento" in body_text(sent[0])
    assert "2 × Pizza Calabresa" in body_text(sent[-1])  # ...and finds the cart


def test_cancel_empties_the_cart_and_says_so(say, loja, tenant):
    say(text("oi"))
    say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    say(tap_list(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa"))
    say(text("2"))
    sent = say(tap_button("pedido:cancelar", "Cancelar"))
    assert "carrinho esvaziado" in body_text(sent[-1])
    cart = Pedido.objects.filter(tenant=tenant, status=StatusPedido.RASCUNHO).first()
    assert cart is None or not cart.itens.exists()
    assert not Pedido.objects.filter(tenant=tenant, status=StatusPedido.CONFIRMADO).exists()


def test_a_whatsapp_catalog_cart_becomes_an_order_and_names_unknown_items(say, loja, tenant):
    pedidos.produto_update(produto=loja["margherita"], retailer_id="SKU-MARG")
    payload = meta.envelope(
        PNID,
        contacts=[{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}],
        messages=[
            {
                "from": CUSTOMER,
                "id": meta.wamid(),
                "timestamp": str(_clock()),
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
    sent = say(payload)
    pedido = Pedido.objects.get(tenant=tenant, status=StatusPedido.CONFIRMADO)
    assert pedido.total == Decimal("149.70")  # our price, not the one in the payload
    assert f"pedido nº {pedido.numero}" in body_text(sent[-1])
    assert "SKU-GONE" in body_text(sent[-1])


def test_a_status_change_by_staff_notifies_the_customer_once(
    say, loja, tenant, fake_graph, celery_eager, django_capture_on_commit_callbacks
):
    say(text("oi"))
    say(tap_list(f"cat:{loja['pizzas'].pk}", "Pizzas"))
    say(tap_list(f"prod:{loja['calabresa'].pk}", "Pizza Calabresa"))
    say(text("1"))
    say(tap_button("pedido:finalizar", "Finalizar"))
    say(tap_button("pedido:confirmar", "Confirmar"))
    pedido = Pedido.objects.get(tenant=tenant, status=StatusPedido.CONFIRMADO)
    before = len(fake_graph.sends)

    with django_capture_on_commit_callbacks(execute=True):
        pedidos.pedido_change_status(pedido=pedido, status=StatusPedido.EM_PREPARO)

    notices = fake_graph.sends[before:]
    assert len(notices) == 1
    assert str(pedido.numero) in body_text(notices[0].json)
    assert Message.objects.filter(direction="out", status=Message.Status.SENT).count() >= 1
