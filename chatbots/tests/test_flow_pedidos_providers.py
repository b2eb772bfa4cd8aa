"""The order flow (test_flow_pedidos.py) on every provider, driven through each one's webhook.

The same conversation runs on Meta (lists and buttons tapped), Whaticket and Evolution
(lists and buttons arrive as numbered text and the customer answers with the number, as
people do on those connections). A `Channel` hides the difference: `say` types a message,
`choose` picks an option the way that provider's customers can, and both return what the
customer then sees, as text. Messages go through tests/conversation.py's driver.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from chatbots import bots, starter_flows
from chatbots.models import Conversation
from chatbots.wire import LIST_ROWS_MAX
from pedidos import services as pedidos
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.conversation import FAKES
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt

CUSTOMER = "5511987654321"
META_SECRET = "pedidos-providers-secret"
PNID = "2000002"


class Channel:
    """One customer talking to the bot through one provider (a tests/conversation.py Chat)."""

    def __init__(self, chat):
        self.chat = chat

    def _seen(self, sent: list[dict]) -> list[str]:
        return [self.seen(body) for body in sent]

    def say(self, text: str) -> list[str]:
        return self._seen(self.chat.text(text))

    def choose(self, title: str) -> list[str]:
        """Answer the last menu by typing the number shown next to `title`."""
        shown = self.seen(self.chat.last)
        numbers = re.findall(rf"^(\d+)\. {re.escape(title)}(?: – .*)?$", shown, re.M)
        assert len(numbers) == 1, f"{title!r} is not one option of:\n{shown}"
        return self.say(numbers[0])


class MetaChannel(Channel):
    key = "meta"

    @staticmethod
    def make_bot(tenant, fake):
        return bots.chatbot_create(
            tenant=tenant,
            name="Pizzaria",
            provider="meta",
            phone_number_id=PNID,
            access_token="meta-token",
            app_secret=META_SECRET,
        )

    def seen(self, body: dict) -> str:
        if body["type"] == "text":
            return body["text"]["body"]
        action = body["interactive"]["action"]
        lines = [body["interactive"]["body"]["text"]]
        lines += [b["reply"]["title"] for b in action.get("buttons", [])]
        for section in action.get("sections", []):
            for row in section["rows"]:
                extra = f" – {row['description']}" if row.get("description") else ""
                lines.append(row["title"] + extra)
        return "\n".join(lines)

    def choose(self, title: str) -> list[str]:
        """Tap the row or button titled `title` in the last interactive message."""
        body = self.chat.last["interactive"]
        action = body["action"]
        if body["type"] == "button":
            (button,) = [b["reply"] for b in action["buttons"] if b["reply"]["title"] == title]
            return self._seen(self.chat.tap(button["id"], title))
        rows = [r for s in action["sections"] for r in s["rows"] if r["title"] == title]
        (row,) = rows
        return self._seen(self.chat.pick(row["id"], title))


class WhaticketChannel(Channel):
    key = "whaticket"

    @staticmethod
    def make_bot(tenant, fake):
        return wt.whaticket_bot(tenant, fake, name="Pizzaria")

    def seen(self, body: dict) -> str:
        return body["body"]


class EvolutionChannel(Channel):
    key = "evolution"

    @staticmethod
    def make_bot(tenant, fake):
        return evo.evolution_bot(tenant, fake, name="Pizzaria")

    def seen(self, body: dict) -> str:
        return body["text"]


def _start(request, chat_with, tenant, channel):
    bot = channel.make_bot(tenant, request.getfixturevalue(FAKES[channel.key]))
    starter_flows.flow_install(chatbot=bot, flow="pedidos")
    return channel(chat_with(bot, phone=CUSTOMER))


@pytest.fixture(params=[MetaChannel, WhaticketChannel, EvolutionChannel], ids=lambda c: c.key)
def chat(request, chat_with, tenant, loja):
    return _start(request, chat_with, tenant, request.param)


def test_an_order_of_two_a_and_one_b_ends_as_one_confirmed_pedido(chat, tenant):
    seen = chat.say("oi")
    assert "Vamos fazer seu pedido" in seen[0]
    assert "Pizzas" in seen[-1] and "Bebidas" in seen[-1]

    seen = chat.choose("Pizzas")
    assert "Pizza Calabresa" in seen[-1]
    assert "R$ 47,90" in seen[-1]

    seen = chat.choose("Pizza Margherita")
    assert "Quantas unidades de *Pizza Margherita*" in seen[-1]

    seen = chat.say("2")
    assert "2 × Pizza Margherita" in seen[-1]
    for option in ("Adicionar mais", "Finalizar", "Cancelar"):
        assert option in seen[-1]

    chat.choose("Adicionar mais")
    chat.say("bebidas")  # typed, not chosen
    chat.say("suco")  # part of the name, accents and case ignored
    chat.say("1")  # the quantity: a number that answers a question, not a menu
    seen = chat.choose("Finalizar")
    if chat.key == "whaticket":  # its webhook carries no profile name: the bot asks it
        assert "qual é o seu nome" in seen[-1]
        seen = chat.say("Maria")
    assert "entrega ou retirada" in seen[-1]
    chat.choose("Retirada")
    seen = chat.choose("Cartão na retirada")
    assert "observação" in seen[-1]
    seen = chat.choose("Sem observações")
    assert "Total: R$ 109,30" in seen[-1]
    assert "Pagamento: Cartão na retirada" in seen[-1]

    seen = chat.choose("Confirmar")
    pedido = Pedido.objects.get(tenant=tenant)
    assert pedido.status == StatusPedido.CONFIRMADO
    assert pedido.total == Decimal("109.30")
    assert sorted((i.produto.nome, i.quantidade) for i in pedido.itens.all()) == [
        ("Pizza Margherita", 2),
        ("Suco de Laranja", 1),
    ]
    assert (pedido.modo_entrega, pedido.forma_pagamento) == ("retirada", "cartao")
    assert f"Pedido nº {pedido.numero} confirmado" in seen[-1]
    assert Conversation.objects.get().status == Conversation.Status.CLOSED


def test_every_product_of_a_long_catalog_is_reachable_page_by_page(chat, loja, tenant):
    for i in range(17):
        pedidos.produto_create(
            tenant=tenant,
            categoria=loja["bebidas"],
            nome=f"Bebida {i:02d}",
            preco=Decimal("5.00"),
        )
    chat.say("oi")
    seen = chat.choose("Bebidas")
    names = set()
    for _page in range(5):
        listing = seen[-1]
        found = re.findall(r"(Bebida \d\d|Suco de Laranja)", listing)
        assert len(found) <= LIST_ROWS_MAX
        names.update(found)
        if "Ver mais" not in listing:
            break
        seen = chat.choose("Ver mais")  # a number after the items on text-only providers
    assert len(names) == 18


def test_going_back_from_the_products_shows_the_categories_again(chat):
    chat.say("oi")
    chat.choose("Pizzas")
    seen = chat.choose("Voltar")
    assert "Pizzas" in seen[-1] and "Bebidas" in seen[-1]
    seen = chat.choose("Bebidas")
    assert "Suco de Laranja" in seen[-1]


def test_cancel_empties_the_cart(chat, tenant):
    chat.say("oi")
    chat.choose("Pizzas")
    chat.choose("Pizza Calabresa")
    chat.say("2")
    seen = chat.choose("Cancelar")
    assert "carrinho esvaziado" in seen[-1]
    assert not Pedido.objects.filter(tenant=tenant, status=StatusPedido.CONFIRMADO).exists()


def test_a_whaticket_tap_is_understood_by_its_title(request, chat_with, tenant, loja):
    channel = _start(request, chat_with, tenant, WhaticketChannel)
    channel.say("oi")
    # Whaticket relays a tap as the title the customer saw (selectedDisplayText).
    seen = channel._seen(channel.chat.post(wt.button_payload("Pizzas", number=CUSTOMER)))
    assert "Pizza Calabresa" in seen[-1]
