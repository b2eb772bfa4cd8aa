"""Carts sent from the WhatsApp catalog (`order` messages) become orders, whatever the step."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from chatbots.handlers import kit
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from pedidos import selectors, services


def catalog_order(ctx: Context) -> Reply | None:
    """Interceptor: an `order` message (a cart sent from the WhatsApp catalog) becomes a
    confirmed Pedido directly, whatever step the conversation is at."""
    if ctx.message is None or ctx.message.type != "order":
        return None
    items = (ctx.message.data.get("order") or {}).get("product_items") or []
    try:
        pedido, unknown = services.pedido_create_from_whatsapp_order(
            tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot, product_items=items
        )
    except ValidationError as exc:
        return Reply(messages=[kit.text(" ".join(exc.messages))])
    body = _("✅ Recebemos seu pedido nº %(numero)s:\n%(resumo)s") % {
        "numero": pedido.numero,
        "resumo": selectors.pedido_summarize(pedido=pedido),
    }
    if unknown:
        body += "\n\n" + _("Não incluímos (indisponíveis): %(itens)s.") % {
            "itens": ", ".join(unknown)
        }
    return Reply(messages=[kit.text(body)], end=True)


class CatalogOrder(Interceptor):
    """A cart sent from the WhatsApp catalog becomes an order, whatever the step."""

    @classmethod
    def path(cls) -> str:
        return "chatbots.handlers.pedidos.CatalogOrder"  # as CHATBOT_INTERCEPTORS names it

    def intercept(self, ctx: Context) -> Reply | None:
        return catalog_order(ctx)
