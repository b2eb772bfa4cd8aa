"""Fixtures of the inbox tests: a Meta bot with a handoff flow, a queue and its people."""

from __future__ import annotations

import pytest

from billing.models import Membership
from inbox.models import Queue
from tests.factories import ChatbotFactory, ConversationFactory, MembershipFactory, StepFactory

MENU = {
    "text": "Olá! Como posso ajudar?",
    "options": [
        {"id": "atendente", "title": "Falar com atendente", "next": "atendente"},
        {"id": "horarios", "title": "Horários", "next": "horarios"},
    ],
}


@pytest.fixture
def bot(tenant, fake_graph):
    """A Meta bot (sending to the fake Graph API) whose menu hands over to "suporte"."""
    bot = ChatbotFactory(tenant=tenant, name="Atendimento", phone_number_id="1234567")
    generic = "chatbots.handlers.generic"
    StepFactory(
        chatbot=bot, code="inicio", order=1, handler_path=f"{generic}.MenuHandler", config=MENU
    )
    StepFactory(
        chatbot=bot,
        code="atendente",
        order=2,
        handler_path=f"{generic}.HandoffHandler",
        config={"text": "Vou chamar alguém.", "queue": "suporte"},
    )
    StepFactory(
        chatbot=bot,
        code="horarios",
        order=3,
        handler_path=f"{generic}.EndHandler",
        config={"text": "Das 8h às 18h."},
    )
    return bot


@pytest.fixture
def suporte(tenant):
    return Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")


@pytest.fixture
def financeiro(tenant):
    return Queue.objects.create(tenant=tenant, name="Financeiro", slug="financeiro")


@pytest.fixture
def agent(tenant, suporte):
    """An attendant of the Suporte queue."""
    user = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    suporte.members.add(user)
    return user


@pytest.fixture
def other_agent(tenant, financeiro):
    """An attendant of the Financeiro queue only."""
    user = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    financeiro.members.add(user)
    return user


@pytest.fixture
def membership_of(tenant):
    def get(user, of=None) -> Membership:
        return Membership.objects.get(user=user, tenant=of or tenant)

    return get


@pytest.fixture
def conversation(tenant):
    from django.utils import timezone

    return ConversationFactory(
        tenant=tenant,
        chatbot__tenant=tenant,
        last_customer_message_at=timezone.now(),
    )


@pytest.fixture
def waiting(chat_with, bot, suporte):
    """Maria asked for a person through the webhook: her chat, with a ticket waiting in
    Suporte."""
    chat = chat_with(bot)
    chat.text("oi")
    chat.tap("atendente", "Falar com atendente")
    chat.ticket = chat.conversation.tickets.get()
    return chat


@pytest.fixture
def run_commits(django_capture_on_commit_callbacks, celery_eager):
    """Run a block's after-commit work (the send tasks) inline."""

    def run(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return run
