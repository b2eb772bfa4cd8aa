"""The stale-cart job: remind once the customers whose cart sat idle, drop carts idle too long.

Run every 6 hours by pedidos.tasks.bulk_stale_carts (config/schedule.py). The reminder goes
through the outbox (chatbots.outbox) and the cart's own bot, so the customer can answer it
and carry on where they stopped; outside WhatsApp's 24-hour window the bot's approved
template of purpose TEMPLATE_CART_REMINDER goes instead.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots import outbox
from chatbots.models import Chatbot
from pedidos.models import ItemPedido, Pedido
from pedidos.money import format_brl
from pedidos.selectors import pedido_summarize
from pedidos.status import StatusPedido

logger = logging.getLogger(__name__)

# MessageTemplate.purpose of the template used outside WhatsApp's 24-hour window.
TEMPLATE_CART_REMINDER = "cart_reminder"  # params: cart total

# Per-bot overrides of the thresholds, in Chatbot.options (hours). Stored: keep the keys.
OPTION_REMIND_AFTER_HOURS = "carrinho_lembrar_apos_horas"
OPTION_EXPIRE_AFTER_HOURS = "carrinho_expirar_apos_horas"


def _hours(chatbot: Chatbot | None, option: str, default: float) -> float:
    value = (chatbot.options or {}).get(option) if chatbot is not None else None
    try:
        return float(value) if value not in (None, "") else float(default)
    except (TypeError, ValueError):
        logger.warning("chatbot %s: option %s=%r is not a number", chatbot.pk, option, value)
        return float(default)


def _remind(pedido: Pedido, now: datetime) -> bool:
    """Claim the reminder with a conditional UPDATE (two runs never remind twice) and
    queue it in the same transaction, so a failed send leaves it for the next run."""
    with transaction.atomic():
        claimed = Pedido.objects.filter(
            pk=pedido.pk, status=StatusPedido.RASCUNHO, lembrado_em__isnull=True
        ).update(lembrado_em=now)  # update(): leaves atualizado_em, so expiry is not delayed
        if not claimed:
            return False
        body = _(
            "Olá! Seu pedido ficou no carrinho:\n%(resumo)s\n\n"
            "É só responder esta mensagem para continuar de onde parou."
        ) % {"resumo": pedido_summarize(pedido=pedido)}
        outbox.send_to_customer(
            chatbot=pedido.chatbot,
            cliente=pedido.cliente,
            message=outbox.Text(body=body),
            template=outbox.template_for(
                chatbot=pedido.chatbot,
                purpose=TEMPLATE_CART_REMINDER,
                params=[format_brl(pedido.total)],
                cliente=pedido.cliente,
            ),
            reason=TEMPLATE_CART_REMINDER,
        )
    return True


def carrinhos_remind_and_expire(
    *, remind_after_hours: float, expire_after_hours: float, now: datetime | None = None
) -> tuple[int, int]:
    """Remind once the customers whose cart has sat idle, and drop carts idle for too long.

    Idle time counts from the cart's last change. Each bot may override the thresholds
    in its options (`carrinho_lembrar_apos_horas`, `carrinho_expirar_apos_horas`). Empty
    carts are never reminded. Expired carts are DELETED, not cancelled: the customer never
    placed them, so they must not show up as cancelled orders in lists and exports, and
    they hold no stock to give back. Returns (reminded, expired).
    """
    now = now or timezone.now()
    bot_ids = set(
        Pedido.objects.filter(status=StatusPedido.RASCUNHO)
        .values_list("chatbot_id", flat=True)
        .distinct()
    )
    bots = Chatbot.objects.in_bulk([b for b in bot_ids if b is not None])
    reminded = expired = 0
    for bot_id in bot_ids:
        chatbot = bots.get(bot_id)
        expire = timedelta(hours=_hours(chatbot, OPTION_EXPIRE_AFTER_HOURS, expire_after_hours))
        remind = timedelta(hours=_hours(chatbot, OPTION_REMIND_AFTER_HOURS, remind_after_hours))
        open_carts = Pedido.objects.filter(status=StatusPedido.RASCUNHO, chatbot_id=bot_id)
        with transaction.atomic():
            # skip_locked: a cart being changed right now is not idle; leave it.
            ids = list(
                open_carts.filter(atualizado_em__lt=now - expire)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
            ItemPedido.objects.filter(pedido_id__in=ids).delete()
            expired += Pedido.objects.filter(id__in=ids).delete()[1].get(Pedido._meta.label, 0)
        if chatbot is None or not chatbot.active:
            continue
        idle = (
            open_carts.filter(
                lembrado_em__isnull=True,
                atualizado_em__lt=now - remind,
                itens__isnull=False,
            )
            .distinct()
            .select_related("cliente", "chatbot")
        )
        for pedido in idle:
            if _remind(pedido, now):
                reminded += 1
    if reminded or expired:
        logger.info("stale carts: %s reminded, %s expired", reminded, expired)
    return reminded, expired
