"""send_to_customer: how domain apps (orders, reminders) message a customer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message, MessageTemplate
from chatbots.outbox import send_to_customer
from chatbots.wire import Template, Text
from tests.factories import ClienteFactory

AVISO = Text(body="Seu pedido #42 saiu para entrega!")
MODELO = Template(name="pedido_saiu", language="pt_BR", params=["#42"])


@pytest.fixture
def bot(tenant, fake_graph):
    bot = Chatbot.objects.create(
        tenant=tenant, name="Padaria", provider="meta", phone_number_id="1065", access_token="tk"
    )
    MessageTemplate.objects.create(
        tenant=tenant, chatbot=bot, name="pedido_saiu", param_count=1, approved=True
    )
    return bot


@pytest.fixture
def send(bot, cliente, celery_eager, django_capture_on_commit_callbacks):
    def send(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            row = send_to_customer(chatbot=bot, cliente=cliente, reason="order_update", **kwargs)
        return Message.objects.get(pk=row.pk)

    return send


def customer_wrote(bot, cliente, ago):
    Conversation.objects.update_or_create(
        chatbot=bot,
        cliente=cliente,
        defaults={"tenant": bot.tenant, "last_customer_message_at": timezone.now() - ago},
    )


def test_inside_the_window_it_sends_the_message(fake_graph, bot, cliente, send):
    customer_wrote(bot, cliente, timedelta(hours=2))

    row = send(message=AVISO, template=MODELO)

    assert (row.status, row.type, row.direction) == ("sent", "text", "out")
    assert [r.json["text"]["body"] for r in fake_graph.sends] == [AVISO.body]
    assert row.conversation.cliente == cliente


def test_outside_the_window_it_sends_the_template(fake_graph, bot, cliente, send):
    customer_wrote(bot, cliente, timedelta(days=2))

    row = send(message=AVISO, template=MODELO)

    assert (row.status, row.type) == ("sent", "template")
    assert [r.json["template"]["name"] for r in fake_graph.sends] == ["pedido_saiu"]


def test_a_customer_who_never_wrote_gets_the_template(fake_graph, bot, cliente, send):
    row = send(message=AVISO, template=MODELO)

    assert row.status == "sent"
    assert Conversation.objects.get(chatbot=bot, cliente=cliente).last_customer_message_at is None
    assert fake_graph.sends[0].json["type"] == "template"


def test_outside_the_window_without_a_template_nothing_is_sent(fake_graph, bot, cliente, send):
    customer_wrote(bot, cliente, timedelta(hours=25))

    row = send(message=AVISO)

    assert (row.status, row.error_code) == ("failed", "outside_24h_window")
    assert row.text == AVISO.body
    assert fake_graph.requests == []


def test_an_unapproved_template_is_refused_without_sending(fake_graph, bot, cliente, send):
    customer_wrote(bot, cliente, timedelta(days=2))

    row = send(message=AVISO, template=Template(name="promo_nao_aprovada"))

    assert (row.status, row.error_code) == ("failed", "template_not_approved")
    assert fake_graph.requests == []


def test_it_never_writes_to_another_tenants_customer(bot, other_tenant, send):
    stranger = ClienteFactory(tenant=other_tenant)

    with pytest.raises(ValueError):
        send_to_customer(chatbot=bot, cliente=stranger, message=AVISO)

    assert not Conversation.objects.filter(cliente=stranger).exists()
