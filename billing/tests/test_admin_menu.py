"""The admin's menu: tenant staff see business sections only; superusers find the
technical tables in one "Técnico" section."""

from __future__ import annotations

import re

import pytest

from billing.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _links(html: str) -> set[str]:
    return set(re.findall(r'href="(/admin/[a-z_]+/[a-z_]+/)"', html))


def test_tenant_staff_do_not_see_the_technical_tables(client):
    owner = MembershipFactory(role=Membership.Role.OWNER)
    owner.user.is_staff = True
    owner.user.save()
    client.force_login(owner.user)
    html = client.get("/admin/").content.decode()
    links = _links(html)
    assert "/admin/pedidos/produto/" in links and "/admin/chatbots/chatbot/" in links
    assert "/admin/chatbots/inboundevent/" not in links
    assert "/admin/agenda/calwebhookevento/" not in links
    assert "Técnico" not in html


def test_superusers_find_the_technical_tables_grouped(admin_client):
    html = admin_client.get("/admin/").content.decode()
    technical = html[html.index("Técnico (só superusuários)") :]
    assert "/admin/chatbots/inboundevent/" in _links(technical)
    assert "/admin/django_celery_beat/periodictask/" in _links(technical)
    business = html[: html.index("Técnico (só superusuários)")]
    assert "/admin/django_celery_beat/periodictask/" not in _links(business)
    # simplejwt's token tables and the payment provider's raw events are machinery too.
    assert "/admin/token_blacklist/outstandingtoken/" in _links(technical)
    assert "/admin/billing/paymentevent/" in _links(technical)
    assert "/admin/token_blacklist/outstandingtoken/" not in _links(business)
    assert "/admin/billing/plan/" in _links(business)


def test_a_messages_error_code_is_shown_with_its_name(admin_client):
    from chatbots.models import Message
    from tests.factories import ConversationFactory

    conversation = ConversationFactory()
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.OUT,
        text="Promoção",
        status=Message.Status.FAILED,
        error_code="131047",
    )
    html = admin_client.get("/admin/chatbots/message/").content.decode()
    assert "131047 · janela de 24 horas fechada" in html


def test_the_dashboard_names_the_plans_state_in_portuguese(client):
    from datetime import timedelta

    from django.utils import timezone

    from billing.models import Subscription
    from tests.factories import PlanFactory

    owner = MembershipFactory(role=Membership.Role.OWNER)
    now = timezone.now()
    Subscription.objects.create(
        tenant=owner.tenant,
        plan=PlanFactory(name="Essencial"),
        status=Subscription.Status.TRIALING,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
        trial_end=now + timedelta(days=13),
    )
    client.force_login(owner.user)
    html = client.get(f"/admin/billing/tenant/{owner.tenant.pk}/dashboard/").content.decode()
    assert "<strong>Essencial</strong> (Em teste)" in html
    assert "trialing" not in html


def test_metas_quality_and_tier_are_shown_by_name(admin_client):
    from tests.factories import ChatbotFactory, MessageTemplateFactory

    bot = ChatbotFactory(quality_rating="YELLOW", messaging_limit_tier="TIER_1K")
    MessageTemplateFactory(chatbot=bot, name="boas_vindas", quality_score="RED")
    page = admin_client.get(f"/admin/chatbots/chatbot/{bot.pk}/change/").content.decode()
    assert "média (amarela)" in page and "até 1.000 conversas iniciadas por dia" in page
    assert "YELLOW" not in page and "TIER_1K" not in page
    templates = admin_client.get("/admin/chatbots/messagetemplate/").content.decode()
    assert "baixa (vermelha)" in templates and ">RED<" not in templates


def test_every_admin_list_fits_a_laptop_screen():
    from django.contrib import admin

    # Seven columns of names, dates and short codes fit 1280 px; more wrap or scroll sideways.
    wide = {
        model._meta.label: len(model_admin.list_display)
        for model, model_admin in admin.site._registry.items()
        if len(model_admin.list_display) > 7
    }
    assert wide == {}
