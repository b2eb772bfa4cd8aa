"""Compliance fixtures: a Meta bot with the order flow, a customer who talks to it through
the webhook (Meta faked on loopback), and one person's data spread over every app."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agenda.models import Agendamento, FeedbackEvent, Servico
from chatbots.models import Conversation, InboundEvent, Message
from clientes.models import Cliente
from compliance import audit, consent
from compliance.models import ConsentEvent
from pedidos import services as pedidos
from tests import meta
from tests.factories import CategoriaFactory, ChatbotFactory, MembershipFactory, ProdutoFactory

SECRET = "compliance-flow-app-secret"
PNID = "3000001"
CUSTOMER = "5511987654321"  # canonical; WhatsApp may send 551187654321 (no ninth digit)


@pytest.fixture
def loja(tenant):
    pizzas = CategoriaFactory(tenant=tenant, nome="Pizzas", ordem=1)
    return {
        "pizzas": pizzas,
        "margherita": ProdutoFactory(
            categoria=pizzas, nome="Pizza Margherita", preco=Decimal("49.90")
        ),
    }


@pytest.fixture
def bot(tenant, loja):
    return ChatbotFactory(
        tenant=tenant,
        name="Pizzaria",
        phone_number_id=PNID,
        access_token="test-token-compliance",
        app_secret=SECRET,
        flow="pedidos",
    )


@pytest.fixture
def chat(chat_with, bot):
    """The customer talking to the order bot through the webhook (tests/conversation.py)."""
    return chat_with(bot, phone=CUSTOMER)


@pytest.fixture
def manager(tenant):
    """An owner of `tenant` (may export, erase, read the audit log)."""
    return MembershipFactory(tenant=tenant).user


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def person_everywhere(*, tenant, chatbot, nome: str, telefone: str, produto) -> dict:
    """One person's data in every app: customer, conversation and messages, a raw inbound
    event, a confirmed order with a free-text note, an appointment with feedback, consent
    history and an audit entry that names them."""
    cliente = Cliente.objects.create(
        tenant=tenant, nome=nome, telefone=telefone, wa_id=telefone, whatsapp_user_id=""
    )
    conversation = Conversation.objects.create(
        tenant=tenant,
        chatbot=chatbot,
        cliente=cliente,
        last_customer_message_at=timezone.now(),
        state={"nome_informado": nome},
    )
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.IN,
        type="text",
        text=f"Oi, aqui é {nome}, meu número é {telefone}",
        payload={"from_phone": telefone, "profile_name": nome},
        status=Message.Status.RECEIVED,
    )
    Message.objects.create(
        tenant=tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        type="text",
        text=f"Olá {nome}!",
        payload={"kind": "text", "body": f"Olá {nome}!"},
        status=Message.Status.SENT,
    )
    InboundEvent.objects.create(
        tenant=tenant,
        provider="meta",
        chatbot=chatbot,
        external_id=meta.wamid(),
        kind=InboundEvent.Kind.MESSAGE,
        contact_key=telefone,
        occurred_at=timezone.now(),
        payload={"from_phone": telefone, "profile_name": nome},
        raw={"contact": {"wa_id": telefone, "profile": {"name": nome}}},
        state=InboundEvent.State.DONE,
    )
    pedido = pedidos.pedido_create(
        tenant=tenant,
        cliente=cliente,
        chatbot=chatbot,
        itens=[(produto, 2)],
        observacoes=f"Entregar para {nome}, ligar no {telefone}",
        endereco_entrega="Rua das Flores, 123, apto 45",
        latitude=Decimal("-23.550520"),  # sent as a WhatsApp location
        longitude=Decimal("-46.633309"),
    )
    servico = Servico.objects.get_or_create(tenant=tenant, nome="Consulta")[0]
    inicio = timezone.now() + timedelta(days=3, hours=cliente.pk % 24)
    agendamento = Agendamento.objects.create(
        tenant=tenant,
        cliente=cliente,
        servico=servico,
        inicio=inicio,
        fim=inicio + timedelta(minutes=30),
        origem=Agendamento.Origem.API,
        status=Agendamento.Status.CONCLUIDO,
        observacoes=f"{nome} prefere o período da tarde",
    )
    FeedbackEvent.objects.create(
        tenant=tenant,
        agendamento=agendamento,
        nota=5,
        comentario=f"Adorei! Assinado: {nome}",
        recebido_em=timezone.now(),
    )
    consent.consent_opt_out(cliente=cliente, source=ConsentEvent.Source.API, actor="test")
    audit.record(
        tenant=tenant,
        actor="test",
        action="update",
        obj=cliente,
        changes={"nome": ["", nome], "telefone": ["", telefone]},
    )
    return {
        "cliente": cliente,
        "conversation": conversation,
        "pedido": pedido,
        "agendamento": agendamento,
    }
