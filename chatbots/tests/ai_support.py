"""Shared set-up of the assistant's tests: bots and the business's data. The customer writes
through tests/conversation.py's driver."""

from __future__ import annotations

from decimal import Decimal

from chatbots import starter_flows
from chatbots.models import BusinessProfile, Chatbot, KnowledgeEntry, Message
from tests.conversation import CUSTOMER, conversation_of
from tests.factories import CategoriaFactory, ChatbotFactory, ProdutoFactory, StepFactory

SECRET = "ai-test-app-secret"
ASSISTANT = "chatbots.handlers.assistant.AssistenteHandler"


def assistant_bot(tenant, *, options: dict | None = None, order_flow: bool = True) -> Chatbot:
    """A bot whose first step is the assistant, with the order flow after it."""
    bot = ChatbotFactory(
        tenant=tenant,
        name=f"Bot {tenant.slug}",
        provider="stub",
        app_secret=SECRET,
        display_number="5511900000000",
        options=options or {},
    )
    if order_flow:
        starter_flows.flow_install(chatbot=bot, flow="pedidos")
        for step in bot.steps.all():
            step.order += 1
            step.save(update_fields=["order"])
    StepFactory(chatbot=bot, code="assistente", handler_path=ASSISTANT, order=0)
    return bot


def menu_bot(tenant, *, options: dict | None = None) -> Chatbot:
    return ChatbotFactory(
        tenant=tenant,
        name=f"Menu {tenant.slug}",
        provider="stub",
        app_secret=SECRET,
        options=options or {},
        flow="menu",
    )


def padaria_data(tenant) -> None:
    """Tenant A's facts: profile, knowledge, a product."""
    BusinessProfile.objects.create(
        tenant=tenant,
        address="Rua das Flores, 100 - Centro, Campinas",
        opening_hours="Segunda a sábado, das 7h às 19h",
        phone="(19) 3232-1000",
        website="https://padariapaoquente.com.br",
    )
    KnowledgeEntry.objects.create(
        tenant=tenant,
        question="Vocês abrem domingo?",
        answer="Aos domingos abrimos das 8h às 12h.",
    )
    KnowledgeEntry.objects.create(
        tenant=tenant,
        kind=KnowledgeEntry.Kind.TEXT,
        answer="Entregamos em todo o Centro com taxa de R$ 5,00.",
    )
    paes = CategoriaFactory(tenant=tenant, nome="Pães", ordem=1)
    ProdutoFactory(categoria=paes, nome="Pão de queijo", preco=Decimal("4.50"))


def clinica_data(tenant) -> None:
    """Tenant B's facts, none of which may ever reach tenant A's prompt."""
    BusinessProfile.objects.create(
        tenant=tenant, address="Avenida Paulista, 1000 - São Paulo", phone="(11) 4000-2000"
    )
    KnowledgeEntry.objects.create(
        tenant=tenant,
        question="Aceitam convênio?",
        answer="Aceitamos convênio Unimed e Bradesco Saúde.",
    )
    dentes = CategoriaFactory(tenant=tenant, nome="Tratamentos", ordem=1)
    ProdutoFactory(categoria=dentes, nome="Clareamento dental", preco=Decimal("890.00"))


def last_inbound(bot: Chatbot, sender: str = CUSTOMER) -> Message:
    return (
        conversation_of(bot, sender)
        .messages.filter(direction=Message.Direction.IN)
        .order_by("-id")
        .first()
    )


def buttons_of(message: Message) -> list[tuple[str, str]]:
    return [(b["id"], b["title"]) for b in message.payload.get("buttons", [])]
