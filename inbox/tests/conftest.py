"""Fixtures of the inbox tests: a Meta bot with a handoff flow, a queue and its people."""

from __future__ import annotations

import pytest

from billing.models import Membership
from inbox.models import Queue
from tests.factories import ChatbotFactory, ConversationFactory, MembershipFactory, StepFactory


@pytest.fixture
def bot(tenant):
    """A Meta bot whose menu's first step hands over to the "suporte" queue."""
    bot = ChatbotFactory(tenant=tenant, name="Atendimento", phone_number_id="1234567")
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.generic.HandoffHandler",
        config={"text": "Vou chamar alguém.", "queue": "suporte"},
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
