"""The outbox's public API for domain apps: which bot speaks, which template, who went quiet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbots import outbox
from chatbots.models import Chatbot, Conversation, MessageTemplate
from tests.factories import ClienteFactory


def bot(tenant, name, **fields) -> Chatbot:
    return Chatbot.objects.create(tenant=tenant, name=name, provider="stub", **fields)


def wrote(chatbot, cliente, ago, **fields) -> Conversation:
    conversation, _created = Conversation.objects.update_or_create(
        chatbot=chatbot,
        cliente=cliente,
        defaults={
            "tenant": chatbot.tenant,
            "last_customer_message_at": None if ago is None else timezone.now() - ago,
            **fields,
        },
    )
    return conversation


# --- Which bot speaks ------------------------------------------------------------------


def test_the_preferred_bot_speaks_when_it_is_active(tenant, cliente):
    pedidos, agenda = bot(tenant, "Pedidos"), bot(tenant, "Agenda")
    wrote(agenda, cliente, timedelta(minutes=1))
    assert outbox.chatbot_for_customer(cliente=cliente, preferred=pedidos) == pedidos


def test_otherwise_the_bot_the_customer_last_wrote_to(tenant, cliente):
    primeiro, segundo, parado = bot(tenant, "A"), bot(tenant, "B"), bot(tenant, "C", active=False)
    wrote(primeiro, cliente, timedelta(days=2))
    wrote(segundo, cliente, timedelta(hours=1))
    wrote(parado, cliente, timedelta(minutes=1))  # the last one, but turned off
    assert outbox.chatbot_for_customer(cliente=cliente) == segundo
    assert outbox.chatbot_for_customer(cliente=cliente, preferred=parado) == segundo


def test_a_bot_the_customer_wrote_to_comes_before_one_that_only_wrote_to_them(tenant, cliente):
    escreveu, so_enviou = bot(tenant, "A"), bot(tenant, "B")
    wrote(escreveu, cliente, timedelta(days=3))
    wrote(so_enviou, cliente, None)  # a reminder started it; the customer never answered
    assert outbox.chatbot_for_customer(cliente=cliente) == escreveu


def test_a_customer_who_never_wrote_gets_the_tenants_first_active_bot(tenant, other_tenant):
    bot(tenant, "Desligado", active=False)
    primeiro = bot(tenant, "Primeiro")
    bot(tenant, "Segundo")
    bot(other_tenant, "De outra empresa")
    cliente = ClienteFactory(tenant=tenant, telefone="5511900000001")
    assert outbox.chatbot_for_customer(cliente=cliente) == primeiro


def test_no_active_bot_is_none(tenant, cliente):
    wrote(bot(tenant, "Desligado", active=False), cliente, timedelta(minutes=1))
    assert outbox.chatbot_for_customer(cliente=cliente) is None


# --- Templates -------------------------------------------------------------------------


@pytest.fixture
def padaria(tenant):
    padaria = bot(tenant, "Padaria")
    for name, purpose, approved in [
        ("aviso_antigo", "order_update", True),
        ("aviso_novo", "order_update", True),
        ("rascunho", "reminder", False),
    ]:
        MessageTemplate.objects.create(
            tenant=tenant,
            chatbot=padaria,
            name=name,
            purpose=purpose,
            approved=approved,
            param_count=1,
        )
    return padaria


def test_the_approved_template_of_a_purpose_is_the_oldest(padaria):
    assert outbox.approved_template(chatbot=padaria, purpose="order_update").name == "aviso_antigo"
    assert outbox.approved_template(chatbot=padaria, purpose="reminder") is None


def test_a_template_is_filled_with_as_many_params_as_it_declares(padaria):
    template = outbox.template_for(chatbot=padaria, purpose="order_update", params=["42", "x"])
    assert template == outbox.Template(name="aviso_antigo", language="pt_BR", params=["42"])


def test_params_given_as_a_function_are_computed_only_for_a_template(padaria):
    calls = []

    def params():
        calls.append(1)
        return ["42"]

    assert outbox.template_for(chatbot=padaria, purpose="reminder", params=params) is None
    assert calls == []
    assert outbox.template_for(chatbot=padaria, purpose="order_update", params=params).params == [
        "42"
    ]
    assert calls == [1]


# --- Who went quiet --------------------------------------------------------------------


def test_conversations_gone_quiet_leave_out_recent_ones_and_those_with_a_person(tenant):
    padaria = bot(tenant, "Padaria")
    clientes = [ClienteFactory(tenant=tenant, telefone=f"551190000000{i}") for i in range(5)]
    antiga = wrote(padaria, clientes[0], timedelta(days=60))
    menos_antiga = wrote(padaria, clientes[1], timedelta(days=40))
    wrote(padaria, clientes[2], timedelta(days=2))
    wrote(padaria, clientes[3], timedelta(days=90), status=Conversation.Status.HUMAN)
    wrote(padaria, clientes[4], timedelta(days=90), status=Conversation.Status.WAITING)
    wrote(bot(tenant, "Outro"), clientes[2], timedelta(days=90))

    since = timezone.now() - timedelta(days=30)
    quiet = outbox.conversations_gone_quiet(chatbot=padaria, since=since)
    assert list(quiet) == [antiga, menos_antiga]
