"""Order updates: the customer is told once, through the order's bot, after the commit."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message, MessageTemplate
from pedidos import services
from pedidos.models import Pedido
from pedidos.status import StatusPedido

S = StatusPedido


def confirmado(tenant, cliente, chatbot, *itens) -> Pedido:
    return services.pedido_create(tenant=tenant, cliente=cliente, chatbot=chatbot, itens=itens)


@pytest.fixture
def pedido(tenant, cliente, chatbot, produto_a, produto_b):
    return confirmado(tenant, cliente, chatbot, (produto_a, 2), (produto_b, 1))


def out_messages(cliente):
    return Message.objects.filter(conversation__cliente=cliente, direction=Message.Direction.OUT)


def open_window(chatbot, cliente):
    Conversation.objects.update_or_create(
        chatbot=chatbot,
        cliente=cliente,
        defaults={"tenant": chatbot.tenant, "last_customer_message_at": timezone.now()},
    )


def test_moving_an_order_notifies_the_customer_once_inside_the_window(
    pedido, chatbot, cliente, django_capture_on_commit_callbacks
):
    open_window(chatbot, cliente)
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(services.TransicaoInvalida):
            services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)  # a double click
    (message,) = out_messages(cliente)
    assert message.status == Message.Status.QUEUED
    assert message.text == f"Seu pedido nº {pedido.pk} está em preparo."


def test_outside_the_window_without_a_template_the_notice_is_recorded_not_sent(
    pedido, cliente, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
    (message,) = out_messages(cliente)
    assert message.status == Message.Status.FAILED
    assert message.error_code == "outside_24h_window"
    pedido.refresh_from_db()
    assert pedido.status == S.EM_PREPARO


def test_outside_the_window_the_order_update_template_is_sent(
    pedido, chatbot, cliente, django_capture_on_commit_callbacks
):
    MessageTemplate.objects.create(
        tenant=chatbot.tenant,
        chatbot=chatbot,
        name="pedido_atualizado",
        param_count=2,
        purpose="order_update",
        approved=True,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
    (message,) = out_messages(cliente)
    assert message.status == Message.Status.QUEUED
    assert message.type == "template"
    assert message.payload["name"] == "pedido_atualizado"
    assert message.payload["params"] == [str(pedido.pk), "Em preparo"]


def test_a_rolled_back_status_change_messages_nobody(
    pedido, chatbot, cliente, django_capture_on_commit_callbacks
):
    open_window(chatbot, cliente)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
            raise RuntimeError("something later in the same request failed")
    assert not out_messages(cliente).exists()
    pedido.refresh_from_db()
    assert pedido.status == S.CONFIRMADO


def test_an_api_order_is_notified_through_the_bot_the_customer_talks_to(
    tenant, cliente, chatbot, produto_a, django_capture_on_commit_callbacks
):
    pedido = confirmado(tenant, cliente, None, (produto_a, 1))
    open_window(chatbot, cliente)
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_cancel(pedido=pedido)
    (message,) = out_messages(cliente)
    assert message.text == f"Seu pedido nº {pedido.pk} foi cancelado."


@pytest.fixture
def carrinho(tenant, cliente, chatbot):
    return services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)


def test_cancelling_a_cart_messages_nobody(
    carrinho, produto_a, chatbot, cliente, django_capture_on_commit_callbacks
):
    open_window(chatbot, cliente)
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_cancel(pedido=carrinho)
    assert not out_messages(cliente).exists()


def test_an_order_of_a_bot_turned_off_is_notified_through_the_bot_the_customer_talks_to(
    pedido, chatbot, tenant, cliente, django_capture_on_commit_callbacks
):
    outro = Chatbot.objects.create(tenant=tenant, name="Delivery", provider="stub")
    open_window(outro, cliente)
    Chatbot.objects.filter(pk=chatbot.pk).update(active=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
    (message,) = out_messages(cliente)
    assert message.conversation.chatbot == outro
    assert message.status == Message.Status.QUEUED


def test_without_an_active_bot_nobody_is_messaged(
    tenant, cliente, chatbot, produto_a, django_capture_on_commit_callbacks
):
    pedido = confirmado(tenant, cliente, None, (produto_a, 1))
    Chatbot.objects.filter(pk=chatbot.pk).update(active=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.pedido_cancel(pedido=pedido)
    assert not out_messages(cliente).exists()
