"""A number that looks connected but stopped answering (chatbots.health): replies stuck in
the outbox or every recent send failing; the owners are told once an hour per bot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import BillingAlert
from chatbots import health
from chatbots.models import Message
from tests.factories import ChatbotFactory, ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    return ConversationFactory(chatbot=ChatbotFactory(provider="evolution", name="Loja"))


def _out(conversation, *, age_minutes: float, status: str, **fields) -> Message:
    message = Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text="Olá",
        status=status,
        **fields,
    )
    at = timezone.now() - timedelta(minutes=age_minutes)
    Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


def test_a_reply_stuck_in_the_outbox_makes_the_bot_silent(conversation):
    bot_id = conversation.chatbot_id
    _out(conversation, age_minutes=2, status=Message.Status.QUEUED)
    assert health.silent_bots([bot_id]) == {}
    _out(conversation, age_minutes=25, status=Message.Status.QUEUED)
    assert "25 minutos" in health.silent_bots([bot_id])[bot_id]


def test_sends_that_all_fail_make_the_bot_silent_until_one_gets_through(conversation):
    bot_id = conversation.chatbot_id
    now = timezone.now()
    for _ in range(3):
        _out(conversation, age_minutes=5, status=Message.Status.FAILED, failed_at=now)
    assert "3 respostas falharam" in health.silent_bots([bot_id])[bot_id]
    _out(conversation, age_minutes=1, status=Message.Status.SENT, sent_at=now)
    assert health.silent_bots([bot_id]) == {}


def test_simulated_replies_are_not_failures(conversation):
    now = timezone.now()
    for _ in range(3):
        _out(
            conversation,
            age_minutes=1,
            status=Message.Status.FAILED,
            failed_at=now,
            error_code="simulation",
        )
    assert health.silent_bots([conversation.chatbot_id]) == {}


def test_the_owners_are_told_once_an_hour(conversation):
    _out(conversation, age_minutes=30, status=Message.Status.SENDING)
    assert health.silent_bots_alert() == 1
    assert health.silent_bots_alert() == 0
    (alert,) = BillingAlert.objects.filter(tenant=conversation.tenant)
    assert "parou de responder" in alert.message and "Loja" in alert.message
    later = timezone.now() + timedelta(hours=1)
    assert health.silent_bots_alert(now=later) == 1
