"""One tenant with a row of every kind the API serves, built lazily, and a client per role.

Used by the role tests (test_api_roles*.py): each test builds only what its endpoint needs.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from rest_framework.test import APIClient

from agenda.models import Agendamento, HorarioFuncionamento
from agenda.services import configuracao_set, servico_create
from billing.models import Membership
from billing.services import api_key_create
from chatbots import bots
from chatbots.models import Conversation, Message
from compliance import audit
from pedidos import services as pedidos
from tests.factories import ClienteFactory, MembershipFactory

SP = ZoneInfo("America/Sao_Paulo")
MONDAY = date(2030, 3, 4)
NOW = datetime(2030, 3, 4, 8, 0, tzinfo=SP)  # the clock of every role test
TUESDAY = MONDAY + timedelta(days=1)
END = "chatbots.handlers.generic.EndHandler"
TOKEN, APP_SECRET = "TOKEN-ANTIGO-123", "SEGREDO-ANTIGO-456"

ROLES = ("owner", "admin", "agent", "api_key")


def at(day: date, hour: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hour), tzinfo=SP)


def client_as(tenant, who: str) -> APIClient:
    """A client acting for `tenant`: a staff member with that role, or an API key."""
    client = APIClient()
    if who == "api_key":
        _, key = api_key_create(tenant=tenant, name="integração")
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    else:
        client.force_authenticate(MembershipFactory(tenant=tenant, role=Membership.Role(who)).user)
    return client


class World:
    """The tenant's rows, each created the first time it is read."""

    def __init__(self, tenant):
        self.tenant = tenant

    @cached_property
    def bot(self):
        return bots.chatbot_create(
            tenant=self.tenant,
            name="Padaria",
            provider="stub",
            access_token=TOKEN,
            app_secret=APP_SECRET,
        )

    @cached_property
    def step(self):
        return bots.step_create(chatbot=self.bot, code="fim", handler_path=END, order=1, config={})

    @cached_property
    def cliente(self):
        return ClienteFactory(tenant=self.tenant, nome="Maria", telefone="5511987654321")

    @cached_property
    def conversation(self):
        return Conversation.objects.create(
            tenant=self.tenant, chatbot=self.bot, cliente=self.cliente
        )

    @cached_property
    def open_conversation(self):
        """A customer who wrote now and asked for a person: waiting in the default queue."""
        from inbox import services as inbox

        cliente = ClienteFactory(tenant=self.tenant, nome="João", telefone="5511911112222")
        conversation = Conversation.objects.create(
            tenant=self.tenant, chatbot=self.bot, cliente=cliente, last_customer_message_at=NOW
        )
        inbox.ticket_open(conversation)
        return conversation

    @cached_property
    def note(self):
        from inbox.models import Note

        return Note.objects.create(
            tenant=self.tenant, conversation=self.conversation, text="Ligar depois"
        )

    @cached_property
    def queue(self):
        from inbox.models import Queue

        return Queue.objects.create(tenant=self.tenant, name="Vendas", slug="vendas")

    @cached_property
    def quick_reply(self):
        from inbox.models import QuickReply

        return QuickReply.objects.create(tenant=self.tenant, shortcut="oi", text="Olá!")

    @cached_property
    def message(self):
        return Message.objects.create(
            tenant=self.tenant,
            conversation=self.conversation,
            direction=Message.Direction.IN,
            text="Oi, quero uma pizza",
            status=Message.Status.RECEIVED,
        )

    @cached_property
    def categoria(self):
        return pedidos.categoria_create(tenant=self.tenant, nome="Pizzas")

    @cached_property
    def produto(self):
        return pedidos.produto_create(
            tenant=self.tenant, categoria=self.categoria, nome="Margherita", preco="45.00"
        )

    @cached_property
    def pedido(self):
        return pedidos.pedido_create(
            tenant=self.tenant, cliente=self.cliente, itens=[(self.produto, 1)]
        )

    @cached_property
    def configuracao_pedidos(self):
        from pedidos import checkout

        return checkout.configuracao_save(tenant=self.tenant, valor_minimo="20.00")

    @cached_property
    def taxa_entrega(self):
        from pedidos import checkout

        return checkout.taxa_entrega_create(tenant=self.tenant, bairro="Centro", valor="5.00")

    @cached_property
    def agenda(self):
        """Mon-Fri 09:00-12:00 and 14:00-18:00, bookable a week ahead."""
        config = configuracao_set(
            tenant=self.tenant, fonte="interna", dias_antecedencia=7, antecedencia_minima_minutos=60
        )
        HorarioFuncionamento.objects.bulk_create(
            HorarioFuncionamento(tenant=self.tenant, dia_semana=dia, abre=abre, fecha=fecha)
            for dia in range(5)
            for abre, fecha in ((time(9), time(12)), (time(14), time(18)))
        )
        return config

    @cached_property
    def servico(self):
        return servico_create(tenant=self.tenant, nome="Consulta", duracao_minutos=30)

    def _agendamento(self, inicio, status):
        return Agendamento.objects.create(
            tenant=self.tenant,
            cliente=self.cliente,
            servico=self.servico,
            inicio=inicio,
            fim=inicio + timedelta(minutes=self.servico.duracao_minutos),
            status=status,
            origem=Agendamento.Origem.ADMIN,
        )

    @cached_property
    def agendamento(self):
        """Tomorrow at 10:00, waiting for confirmation."""
        return self._agendamento(at(TUESDAY, "10:00"), Agendamento.Status.PENDENTE)

    @cached_property
    def agendamento_passado(self):
        """Last Friday at 10:00, confirmed: its attendance can be marked."""
        return self._agendamento(at(MONDAY - timedelta(days=3), "10:00"), "confirmado")

    @cached_property
    def audit_entry(self):
        return audit.record(
            tenant=self.tenant, actor="test", action="update", object_type="x", object_id="1"
        )

    # --- Campaigns (campaigns.api) ---------------------------------------------------------

    @cached_property
    def template(self):
        from chatbots.models import MessageTemplate

        return MessageTemplate.objects.create(
            tenant=self.tenant, chatbot=self.bot, name="promo", approved=True, category="MARKETING"
        )

    def _campaign(self, status: str):
        from campaigns import services as campaigns

        campaign = campaigns.campaign_create(
            tenant=self.tenant,
            chatbot=self.bot,
            name="Maio",
            variants=[{"template": self.template}],
            audience={"cliente_ids": [self.cliente.pk]},
        )
        if status != "draft":
            type(campaign).objects.filter(pk=campaign.pk).update(status=status)
        return campaign

    @cached_property
    def campaign(self):
        return self._campaign("draft")

    @cached_property
    def running_campaign(self):
        return self._campaign("running")

    @cached_property
    def paused_campaign(self):
        return self._campaign("paused")

    @cached_property
    def scheduled_message(self):
        from campaigns import scheduled

        return scheduled.scheduled_create(
            chatbot=self.bot, cliente=self.cliente, text="Oi", send_at=NOW + timedelta(hours=1)
        )

    @cached_property
    def webhook(self):
        from integrations.models import WebhookSubscription

        return WebhookSubscription.objects.create(
            tenant=self.tenant,
            url="https://erp.example.com/eventos",
            secret="segredo-do-integrador-123",
            events=["order.created"],
        )

    @cached_property
    def delivery(self):
        from integrations.models import WebhookDelivery

        return WebhookDelivery.objects.create(
            tenant=self.tenant,
            subscription=self.webhook,
            event_id="evt_1",
            event_type="order.created",
            payload={"id": "evt_1"},
            status=WebhookDelivery.Status.FAILED,
        )
