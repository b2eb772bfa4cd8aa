"""An order's status asked at any step: "cadê meu pedido?", "status do pedido", "meu pedido".

The answer is the customer's last order past the cart (pedidos.selectors.pedido_get_latest),
its status as pedidos.status names it, when it last changed, and what it holds; then how
to reach a person about it. Without an order it says so and offers to order, on a bot
with the order flow; a bot without one whose customer never ordered leaves the message to
the step. The conversation stays where it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots.ai import intent
from chatbots.ai.options import flow_steps
from chatbots.handlers import kit
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.interceptors.understanding import INTENT_PREFIX, takes_free_text
from chatbots.models import Message
from pedidos import selectors
from pedidos import status as order_status


def _zone(tenant) -> ZoneInfo:
    try:
        return ZoneInfo(tenant.time_zone or "America/Sao_Paulo")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("America/Sao_Paulo")


def when_label(moment: datetime, *, tenant) -> str:
    """ "hoje às 14:32", "ontem às 09:10", "em 12/03 às 18:00", in the tenant's time zone."""
    zone = _zone(tenant)
    local = moment.astimezone(zone)
    today = timezone.now().astimezone(zone).date()
    hour = f"{local:%H:%M}"
    if local.date() == today:
        return _("hoje às %(hora)s") % {"hora": hour}
    if local.date() == today - timedelta(days=1):
        return _("ontem às %(hora)s") % {"hora": hour}
    return _("em %(dia)s às %(hora)s") % {"dia": f"{local:%d/%m}", "hora": hour}


class OrderStatus(Interceptor):
    """ "cadê meu pedido?": the last order, its status and when it changed."""

    def intercept(self, ctx: Context) -> Reply | None:
        message = ctx.message
        if message is None or message.type != "text" or message.reply_id or not ctx.text:
            return None
        if takes_free_text(ctx) or intent.classify_local(ctx.text).rule != "status":
            return None
        tenant = ctx.chatbot.tenant
        pedido = selectors.pedido_get_latest(tenant=tenant, cliente=ctx.cliente)
        if pedido is None:
            if not flow_steps(chatbot=ctx.chatbot).get(Message.Intent.PEDIDO):
                return None
            return Reply(
                messages=[
                    kit.buttons(
                        _("Não encontrei nenhum pedido seu por aqui. Quer fazer um agora?"),
                        [(f"{INTENT_PREFIX}pedido", _("Fazer pedido"))],
                    )
                ]
            )
        body = _(
            "📦 Seu pedido nº %(numero)s: *%(status)s* (atualizado %(quando)s).\n\n%(resumo)s"
            "\n\nPara falar com uma pessoa sobre ele, envie *atendente*."
        ) % {
            "numero": pedido.numero,
            "status": order_status.label(pedido.status),
            "quando": when_label(pedido.atualizado_em, tenant=tenant),
            "resumo": selectors.pedido_summarize(pedido=pedido),
        }
        return Reply(messages=[kit.text(body)])
