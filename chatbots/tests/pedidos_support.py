"""Shared steps of the order-flow tests: a customer who fills a cart, and who answers the
checkout (delivery or pickup, payment, notes) the quickest way, through the webhook."""

from __future__ import annotations

from tests import meta
from tests.conversation import next_timestamp


def fill_cart(chat, loja, *, product: str = "margherita", quantity: str = "2"):
    """ "oi", Pizzas, the product, the quantity: the cart with its three buttons."""
    chat.text("oi")
    chat.pick(f"cat:{loja['pizzas'].pk}", "Pizzas")
    chat.pick(f"prod:{loja[product].pk}", loja[product].nome)
    return chat.text(quantity)


def pickup_by_card(chat):
    """From "Finalizar": pickup, card, no notes; returns the confirmation's summary turn."""
    chat.tap("pedido:finalizar", "Finalizar")
    chat.tap("pedido:retirada", "Retirada")
    chat.pick("pay:cartao", "Cartão na retirada")
    return chat.tap("pedido:sem_obs", "Sem observações")


def location(chat, *, latitude: float, longitude: float, name: str = "", address: str = ""):
    """The customer sends a WhatsApp location (Meta's `location` message)."""
    body = {"latitude": latitude, "longitude": longitude}
    if name:
        body["name"] = name
    if address:
        body["address"] = address
    return chat.post(
        meta.envelope(
            chat.bot.phone_number_id,
            contacts=[{"profile": {"name": chat.name}, "wa_id": chat.phone}],
            messages=[
                {
                    "from": chat.phone,
                    "id": meta.wamid(),
                    "timestamp": str(next_timestamp()),
                    "type": "location",
                    "location": body,
                }
            ],
        )
    )


def tap_as(chat, reply_id: str, title: str, *, kind: str = "button_reply"):
    """A tap that carries the chat's own profile name (tests/meta.py's taps say "Maria"):
    for a customer WhatsApp gave no name (`chat_with(bot, name="")`)."""
    return chat.post(
        meta.envelope(
            chat.bot.phone_number_id,
            contacts=[{"profile": {"name": chat.name}, "wa_id": chat.phone}],
            messages=[
                {
                    "from": chat.phone,
                    "id": meta.wamid(),
                    "timestamp": str(next_timestamp()),
                    "type": "interactive",
                    "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
                }
            ],
        )
    )
