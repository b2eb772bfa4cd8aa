"""Shared set-up of the assistant's tests: bots, the business's data, a customer who writes."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

from chatbots import bots, starter_flows
from chatbots.models import BusinessProfile, Chatbot, Conversation, KnowledgeEntry, Message
from pedidos import services as pedidos
from tests import meta

SECRET = "ai-test-app-secret"
CUSTOMER = "5511987654321"
ASSISTANT = "chatbots.handlers.assistant.AssistenteHandler"
_pnids = itertools.count(4_000_001)
_clock = [int(time.time())]


def tick() -> int:
    _clock[0] += 1
    return _clock[0]


def assistant_bot(tenant, *, options: dict | None = None, order_flow: bool = True) -> Chatbot:
    """A bot whose first step is the assistant, with the order flow after it."""
    bot = bots.chatbot_create(
        tenant=tenant,
        name=f"Bot {tenant.slug}",
        provider="stub",
        phone_number_id=str(next(_pnids)),
        app_secret=SECRET,
        display_number="5511900000000",
        options=options or {},
    )
    if order_flow:
        starter_flows.flow_install(chatbot=bot, flow="pedidos")
        for step in bot.steps.all():
            step.order += 1
            step.save(update_fields=["order"])
    bots.step_create(chatbot=bot, code="assistente", handler_path=ASSISTANT, order=0, config={})
    return bot


def menu_bot(tenant, *, options: dict | None = None) -> Chatbot:
    bot = bots.chatbot_create(
        tenant=tenant,
        name=f"Menu {tenant.slug}",
        provider="stub",
        phone_number_id=str(next(_pnids)),
        app_secret=SECRET,
        options=options or {},
    )
    starter_flows.flow_install(chatbot=bot, flow="menu")
    return bot


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
    paes = pedidos.categoria_create(tenant=tenant, nome="Pães", ordem=1)
    pedidos.produto_create(
        tenant=tenant, categoria=paes, nome="Pão de queijo", preco=Decimal("4.50")
    )


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
    dentes = pedidos.categoria_create(tenant=tenant, nome="Tratamentos", ordem=1)
    pedidos.produto_create(
        tenant=tenant, categoria=dentes, nome="Clareamento dental", preco=Decimal("890.00")
    )


def send(client, bot: Chatbot, body: str = "", *, sender: str = CUSTOMER, reply_id: str = ""):
    """A customer's message through the signed webhook (run what it queues with
    `django_capture_on_commit_callbacks(execute=True)` and `celery_eager`)."""
    if reply_id:
        payload = meta.button_reply(
            bot.phone_number_id, sender=sender, reply_id=reply_id, title=body, ts=tick()
        )
    else:
        payload = meta.text_message(bot.phone_number_id, sender=sender, body=body, ts=tick())
    response = meta.post(client, payload, SECRET)
    assert response.status_code == 200, response.content
    return response


def conversation_of(bot: Chatbot, sender: str = CUSTOMER) -> Conversation:
    return Conversation.objects.get(chatbot=bot, cliente__telefone=sender)


def bot_said(bot: Chatbot, sender: str = CUSTOMER) -> list[Message]:
    return list(
        conversation_of(bot, sender).messages.filter(direction=Message.Direction.OUT).order_by("id")
    )


def last_inbound(bot: Chatbot, sender: str = CUSTOMER) -> Message:
    return (
        conversation_of(bot, sender)
        .messages.filter(direction=Message.Direction.IN)
        .order_by("-id")
        .first()
    )


def buttons_of(message: Message) -> list[tuple[str, str]]:
    return [(b["id"], b["title"]) for b in message.payload.get("buttons", [])]
