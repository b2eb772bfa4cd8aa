"""Periodic jobs of the orders app (thin: one service call each)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from pedidos import stale_carts


@shared_task(name="pedidos.tasks.bulk_stale_carts")
def bulk_stale_carts() -> dict:
    """Every 6 hours: remind once, after N hours, customers with an unconfirmed cart, and
    delete carts older than M hours (per bot in Chatbot.options, defaults in settings)."""
    reminded, expired = stale_carts.carrinhos_remind_and_expire(
        remind_after_hours=settings.PEDIDOS_CART_REMIND_AFTER_HOURS,
        expire_after_hours=settings.PEDIDOS_CART_EXPIRE_AFTER_HOURS,
    )
    return {"reminded": reminded, "expired": expired}
