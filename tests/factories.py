"""factory_boy factories shared by every app's tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from agenda.models import Agendamento, Servico
from billing.models import Membership, Plan, Tenant
from chatbots.models import Chatbot, Conversation, InboundEvent, MessageTemplate, Step
from chatbots.wire import InboundMessage
from clientes.models import Cliente
from pedidos.models import Categoria, Produto
from tests import meta


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Empresa {n}")
    slug = factory.Sequence(lambda n: f"empresa-{n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Plano {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda o: o.username)
    is_staff = True
    password = factory.django.Password("senha-forte-123")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Membership.Role.OWNER


class ClienteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cliente

    tenant = factory.SubFactory(TenantFactory)
    nome = factory.Faker("name", locale="pt_BR")
    telefone = factory.Sequence(lambda n: f"55119{n:08d}")


# --- Bots and their conversations ------------------------------------------------------------


class ChatbotFactory(factory.django.DjangoModelFactory):
    """A Meta bot with credentials, routed by its own phone_number_id.

    `flow="pedidos"` (or "menu", "agenda", …) installs that starter flow's steps.
    """

    class Meta:
        model = Chatbot
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Bot {n}")
    provider = "meta"
    # Nine digits from 8: apart from the seven-digit ids tests write by hand.
    phone_number_id = factory.Sequence(lambda n: f"8{n:08d}")
    access_token = "test-token"
    app_secret = "test-app-secret"

    @factory.post_generation
    def flow(obj, create, extracted, **kwargs):
        if extracted:
            from chatbots import starter_flows

            starter_flows.flow_install(chatbot=obj, flow=extracted)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    chatbot = factory.SubFactory(ChatbotFactory)
    tenant = factory.SelfAttribute("chatbot.tenant")
    code = factory.Sequence(lambda n: f"etapa-{n}")
    handler_path = "chatbots.handlers.generic.EndHandler"
    order = factory.Sequence(lambda n: n + 1)
    config = factory.LazyFunction(dict)


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    chatbot = factory.SubFactory(ChatbotFactory)
    tenant = factory.SelfAttribute("chatbot.tenant")
    cliente = factory.SubFactory(ClienteFactory, tenant=factory.SelfAttribute("..tenant"))


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    """A template Meta approved (`approved=False` for one still in review)."""

    class Meta:
        model = MessageTemplate

    chatbot = factory.SubFactory(ChatbotFactory)
    tenant = factory.SelfAttribute("chatbot.tenant")
    name = factory.Sequence(lambda n: f"modelo_{n}")
    approved = True


class InboundEventFactory(factory.django.DjangoModelFactory):
    """A customer's text stored by the webhook and not processed yet, as the engine reads it:
    `InboundEventFactory(chatbot=bot, text="1", sender="5511…")`."""

    class Meta:
        model = InboundEvent

    class Params:
        text = "oi"
        sender = "5511987654321"

    chatbot = factory.SubFactory(ChatbotFactory)
    tenant = factory.SelfAttribute("chatbot.tenant")
    provider = "meta"
    external_id = factory.LazyFunction(meta.wamid)
    kind = InboundEvent.Kind.MESSAGE
    contact_key = factory.SelfAttribute("sender")
    occurred_at = factory.LazyFunction(timezone.now)
    payload = factory.LazyAttribute(
        lambda o: InboundMessage(
            provider=o.provider,
            external_id=o.external_id,
            bot_key=o.chatbot.phone_number_id,
            timestamp=o.occurred_at,
            type="text",
            from_phone=o.sender,
            text=o.text,
        ).to_dict()
    )


# --- Catalogue and agenda --------------------------------------------------------------------


class CategoriaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Categoria

    tenant = factory.SubFactory(TenantFactory)
    nome = factory.Sequence(lambda n: f"Categoria {n}")


class ProdutoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Produto

    categoria = factory.SubFactory(CategoriaFactory)
    tenant = factory.SelfAttribute("categoria.tenant")
    nome = factory.Sequence(lambda n: f"Produto {n}")
    preco = Decimal("10.00")


class ServicoFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Servico

    tenant = factory.SubFactory(TenantFactory)
    nome = factory.Sequence(lambda n: f"Serviço {n}")
    duracao_minutos = 30


class AgendamentoFactory(factory.django.DjangoModelFactory):
    """An appointment stored as it is (test set-up, not the booking rules): `fim` follows
    from the service's length."""

    class Meta:
        model = Agendamento

    servico = factory.SubFactory(ServicoFactory)
    tenant = factory.SelfAttribute("servico.tenant")
    cliente = factory.SubFactory(ClienteFactory, tenant=factory.SelfAttribute("..tenant"))
    inicio = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    fim = factory.LazyAttribute(lambda o: o.inicio + timedelta(minutes=o.servico.duracao_minutos))
    status = Agendamento.Status.CONFIRMADO
    origem = Agendamento.Origem.ADMIN
