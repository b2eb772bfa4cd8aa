"""Quotas on the message path, driven through the Meta webhook as customers would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import gate, quotas
from billing.models import BillingAlert, BillingSettings, LimitKind, Membership, Subscription
from billing.tests.conftest import totals, usage_today
from chatbots import bots, outbox
from chatbots.models import Conversation, Message
from chatbots.wire import Text
from clientes.models import Cliente
from tests.factories import ChatbotFactory, InboundEventFactory, MembershipFactory

SECRET = "quota-app-secret"
PNID = "3000001"
CUSTOMER = "5511988887777"
GREETING = "Como posso ajudar"


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(
        tenant=tenant, name="Padaria", phone_number_id=PNID, app_secret=SECRET, flow="menu"
    )


@pytest.fixture
def say(chat_with, bot):
    """One customer message through the webhook; returns the texts the bot sent to Meta."""

    def _say(body, sender=CUSTOMER):
        chat = chat_with(bot, phone=sender)
        chat.text(body)
        return chat.texts

    return _say


@pytest.fixture
def staff(tenant):
    owner = MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user
    admin = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    MembershipFactory(tenant=tenant, role=Membership.Role.AGENT)
    return owner, admin


def test_under_the_limit_the_flow_runs_and_every_message_is_metered(subscription, say, flush):
    sent = say("oi")
    assert GREETING in sent[0]
    flush()

    assert totals(subscription.tenant) == {
        "messages_in": 1,
        "messages_out": len(sent),
        "ai_tokens": 0,
    }


def test_over_the_limit_a_customer_gets_the_notice_once_a_day_and_no_flow(
    subscription, say, staff, time_machine
):
    time_machine.move_to(timezone.now(), tick=True)
    usage_today(subscription.tenant, messages_in=6, messages_out=4)  # the plan allows 10

    assert say("oi") == [gate.DEFAULT_NOTICE]
    assert say("1") == []
    assert say("menu") == []  # a restart would enter the flow: the quota gates it too
    conversation = Conversation.objects.get()
    assert conversation.current_step == ""  # no flow ran
    assert say("oi", sender="5511977776666") == [gate.DEFAULT_NOTICE]  # another customer

    time_machine.move_to(timezone.now() + timedelta(days=1), tick=True)
    assert say("oi") == [gate.DEFAULT_NOTICE]
    assert say("oi") == []

    # Staff were told once: one notice in the admin, one email to the owner and the admin.
    alert = BillingAlert.objects.get()
    assert (alert.kind, alert.threshold) == (LimitKind.MESSAGES, 100)
    assert len(mail.outbox) == 1
    owner, admin = staff
    assert sorted(mail.outbox[0].to) == sorted([owner.email, admin.email])
    assert "limite de mensagens por mês" in mail.outbox[0].body


def test_the_notice_is_the_bots_then_the_tenants_then_the_default(subscription, say, bot):
    usage_today(subscription.tenant, messages_in=10)
    BillingSettings.objects.create(tenant=subscription.tenant, over_quota_notice="Volte amanhã!")
    assert say("oi") == ["Volte amanhã!"]

    bots.chatbot_update(chatbot=bot, options={gate.NOTICE_OPTION: "Estamos sem atendimento."})
    assert say("oi", sender="5511966665555") == ["Estamos sem atendimento."]


def test_past_due_keeps_working_during_the_grace_period_then_stops(
    subscription, say, staff, settings, time_machine
):
    settings.BILLING_PAST_DUE_GRACE_DAYS = 7
    time_machine.move_to(timezone.now(), tick=True)
    Subscription.objects.filter(pk=subscription.pk).update(
        status=Subscription.Status.PAST_DUE, past_due_since=timezone.now() - timedelta(days=6)
    )
    assert GREETING in say("oi")[0]

    time_machine.move_to(timezone.now() + timedelta(days=1, minutes=1), tick=True)
    assert say("oi") == [gate.DEFAULT_NOTICE]
    assert say("2") == []

    alert = BillingAlert.objects.get()
    assert alert.kind == LimitKind.SUBSCRIPTION
    assert len(mail.outbox) == 1
    assert "pagamento" in mail.outbox[0].subject.lower()


def test_a_canceled_tenant_sends_nothing_at_all(subscription, say, fake_graph, celery_eager):
    Subscription.objects.filter(pk=subscription.pk).update(status=Subscription.Status.CANCELED)
    quotas.quota_state_invalidate(tenant_id=subscription.tenant_id)

    assert say("oi") == []
    assert not Message.objects.filter(direction=Message.Direction.OUT).exists()


def test_outbound_refuses_to_send_for_a_canceled_tenant(
    subscription, bot, say, fake_graph, django_capture_on_commit_callbacks
):
    say("oi")  # opens the 24-hour window
    Subscription.objects.filter(pk=subscription.pk).update(status=Subscription.Status.CANCELED)
    quotas.quota_state_invalidate(tenant_id=subscription.tenant_id)
    before = len(fake_graph.sends)

    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.send_to_customer(
            chatbot=bot, cliente=Cliente.objects.get(), message=Text(body="Seu pedido saiu!")
        )

    row.refresh_from_db()
    assert row.status == Message.Status.FAILED
    assert row.error_code == "subscription_canceled"
    assert len(fake_graph.sends) == before


def test_a_message_of_a_tenant_with_a_plan_costs_at_most_20_queries(subscription, bot, say):
    from chatbots import engine

    say("oi")  # a busy tenant: its usage figure is in the cache
    event = InboundEventFactory(chatbot=bot, text="1", sender=CUSTOMER)
    with CaptureQueriesContext(connection) as ctx:
        engine.process_event(event.pk)

    assert len(ctx.captured_queries) <= 20, len(ctx.captured_queries)
    assert Conversation.objects.get().current_step != ""


# --- ai_allowed ---------------------------------------------------------------------------


def _fresh(tenant):
    from billing.models import Tenant

    quotas.quota_state_invalidate(tenant_id=tenant.pk)
    return Tenant.objects.get(pk=tenant.pk)


def test_ai_is_allowed_within_the_plan(subscription):
    assert quotas.ai_allowed(tenant=_fresh(subscription.tenant))


def test_ai_is_refused_when_the_plan_has_no_ai(subscription, plan):
    plan.ai_enabled = False
    plan.save()
    assert not quotas.ai_allowed(tenant=_fresh(subscription.tenant))


def test_ai_is_refused_when_the_months_tokens_are_used(subscription):
    usage_today(subscription.tenant, ai_tokens=1000)
    assert not quotas.ai_allowed(tenant=_fresh(subscription.tenant))


def test_ai_is_refused_over_the_message_limit_and_when_canceled(subscription):
    usage_today(subscription.tenant, messages_out=10)
    assert not quotas.ai_allowed(tenant=_fresh(subscription.tenant))
    usage_today(subscription.tenant, messages_out=0)
    Subscription.objects.filter(pk=subscription.pk).update(status=Subscription.Status.CANCELED)
    assert not quotas.ai_allowed(tenant=_fresh(subscription.tenant))


def test_a_tenant_without_a_subscription_is_not_limited(tenant):
    usage_today(tenant, messages_in=10**6)
    assert quotas.ai_allowed(tenant=tenant)
    assert quotas.sending_allowed(tenant_id=tenant.pk)
