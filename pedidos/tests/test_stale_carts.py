"""Abandoned carts: reminded once after N hours, dropped after M hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from chatbots.models import Conversation, Message
from pedidos import services, stale_carts
from pedidos.models import ItemPedido, Pedido
from tests.factories import ClienteFactory

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


def at(hours: float):
    return time_machine.travel(T0 + timedelta(hours=hours), tick=False)


def run(hours: float):
    with at(hours):
        return stale_carts.carrinhos_remind_and_expire(remind_after_hours=4, expire_after_hours=24)


@pytest.fixture
def abandonado(tenant, cliente, chatbot, produto_a, produto_b):
    with at(0):
        Conversation.objects.create(
            tenant=tenant, chatbot=chatbot, cliente=cliente, last_customer_message_at=T0
        )
        carrinho = services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
        services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=1)
    return carrinho


def reminders(cliente):
    return Message.objects.filter(conversation__cliente=cliente, direction="out")


def test_a_cart_is_left_alone_before_the_reminder_time(abandonado, cliente):
    assert run(3.9) == (0, 0)
    assert not reminders(cliente).exists()


def test_an_abandoned_cart_is_reminded_once_then_expired(abandonado, cliente):
    assert run(5) == (1, 0)
    (message,) = reminders(cliente)
    assert message.status == Message.Status.QUEUED  # the customer wrote 5 hours ago
    assert "2 × X-Búrguer (R$ 10,00) = R$ 20,00" in message.text
    assert "Total: R$ 24,50" in message.text

    assert run(6) == (0, 0)
    assert run(23) == (0, 0)
    assert reminders(cliente).count() == 1

    assert run(24.5) == (0, 1)
    assert not Pedido.objects.filter(pk=abandonado.pk).exists()
    assert not ItemPedido.objects.filter(pedido_id=abandonado.pk).exists()
    assert reminders(cliente).count() == 1  # expiring says nothing


def test_a_reminder_outside_the_window_without_template_is_recorded_as_not_sent(
    tenant, chatbot, produto_a
):
    cliente = ClienteFactory(tenant=tenant)
    with at(0):
        carrinho = services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    assert run(5) == (1, 0)
    (message,) = reminders(cliente)
    assert (message.status, message.error_code) == ("failed", "outside_24h_window")
    assert run(6) == (0, 0)


def test_activity_on_the_cart_postpones_both(abandonado, cliente, produto_a):
    with at(3):
        services.carrinho_add_item(pedido=abandonado, produto=produto_a, quantidade=1)
    assert run(5) == (0, 0)
    assert run(7.5) == (1, 0)
    assert run(26) == (0, 0)
    assert run(27.5) == (0, 1)


def test_an_empty_cart_is_expired_without_a_reminder(tenant, cliente, chatbot):
    with at(0):
        services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
    assert run(5) == (0, 0)
    assert run(25) == (0, 1)
    assert not reminders(cliente).exists()


def test_each_bot_may_set_its_own_hours(abandonado, chatbot, cliente):
    chatbot.options = {"carrinho_lembrar_apos_horas": 1, "carrinho_expirar_apos_horas": 2}
    chatbot.save()
    assert run(1.5) == (1, 0)
    assert run(2.5) == (0, 1)


def test_the_periodic_task_reminds_with_the_configured_hours(abandonado, cliente, settings):
    from pedidos.tasks import bulk_stale_carts

    settings.PEDIDOS_CART_REMIND_AFTER_HOURS = 2
    settings.PEDIDOS_CART_EXPIRE_AFTER_HOURS = 10
    with at(3):
        assert bulk_stale_carts() == {"reminded": 1, "expired": 0}
    with at(11):
        assert bulk_stale_carts() == {"reminded": 0, "expired": 1}
    assert reminders(cliente).count() == 1


def test_setup_periodic_tasks_schedules_the_stale_cart_job(db):
    from io import StringIO

    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", stdout=StringIO())
    call_command("setup_periodic_tasks", stdout=StringIO())  # idempotent
    task = PeriodicTask.objects.get(task="pedidos.tasks.bulk_stale_carts")
    assert task.interval.every == 6 * 3600
    assert PeriodicTask.objects.filter(task="pedidos.tasks.bulk_stale_carts").count() == 1
