"""The order flow shows a product's photo with its price when the product has one."""

from __future__ import annotations

from decimal import Decimal

from tests.conversation import body_text
from tests.factories import CategoriaFactory, ChatbotFactory, ProdutoFactory


def test_the_order_flow_sends_the_products_photo_with_its_price(chat_with, tenant, fake_graph):
    pizzas = CategoriaFactory(tenant=tenant, nome="Pizzas", ordem=1)
    foto = "https://cdn.pizzaria.example/margherita.jpg"
    margherita = ProdutoFactory(
        categoria=pizzas, nome="Pizza Margherita", preco=Decimal("49.90"), imagem_url=foto
    )
    calabresa = ProdutoFactory(categoria=pizzas, nome="Pizza Calabresa", preco=Decimal("47.90"))
    bot = ChatbotFactory(tenant=tenant, phone_number_id="2000001", flow="pedidos")
    chat = chat_with(bot)
    chat.text("oi")
    chat.pick(f"cat:{pizzas.pk}", "Pizzas")

    sent = chat.pick(f"prod:{margherita.pk}", "Pizza Margherita")
    assert sent[-2]["type"] == "image"
    assert sent[-2]["image"] == {"link": foto, "caption": "Pizza Margherita — R$ 49,90"}
    assert "Quantas unidades de *Pizza Margherita*" in body_text(sent[-1])

    # A product without a photo: only the question.
    chat.text("cancelar")
    chat.text("oi")
    chat.pick(f"cat:{pizzas.pk}", "Pizzas")
    sent = chat.pick(f"prod:{calabresa.pk}", "Pizza Calabresa")
    assert [m["type"] for m in sent] == ["text"]
