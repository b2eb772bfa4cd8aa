"""Periodic jobs of the orders app (thin: one service call each)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from pedidos import services


@shared_task(name="pedidos.tasks.bulk_stale_carts")
def bulk_stale_carts() -> dict:
    """Every 6 hours: remind once, after N hours, customers with an unconfirmed cart, and
    delete carts older than M hours (per bot in Chatbot.options, defaults in settings)."""
    reminded, expired = services.carrinhos_lembrar_e_expirar(
        lembrar_apos_horas=settings.PEDIDOS_CART_REMIND_AFTER_HOURS,
        expirar_apos_horas=settings.PEDIDOS_CART_EXPIRE_AFTER_HOURS,
    )
    return {"reminded": reminded, "expired": expired}
