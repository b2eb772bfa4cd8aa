"""Meta charges per delivered template by category and country; the estimate follows
(billing.template_costs, billing.analytics)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from billing import analytics, template_costs
from billing.models import TemplateCost
from chatbots.models import Conversation, Message, MessageTemplate
from chatbots.tests.webhook_meta_support import PHONE_NUMBER_ID, create_bot, envelope, post
from tests.factories import ClienteFactory

RATES = {
    "BR": {"MARKETING": "0.35", "UTILITY": "0.04", "AUTHENTICATION": "0.04"},
    "*": {"MARKETING": "0.50", "UTILITY": "0.10", "AUTHENTICATION": "0.10"},
}


def test_brazils_rates_are_the_default(settings):
    settings.WHATSAPP_TEMPLATE_RATES = {}

    assert template_costs.rate_for(category="MARKETING", country="BR") == Decimal("0.3438")
    assert template_costs.rate_for(category="UTILITY", country="US") == Decimal("0.0374")


@pytest.mark.parametrize(
    ("phone", "country"),
    [("5511987654321", "BR"), ("15550783881", "US"), ("351912345678", "PT"), ("99912", "*")],
)
def test_the_country_is_the_customers_calling_code(phone, country):
    assert template_costs.country_of(phone) == country


def test_configured_rates_apply_by_country_with_a_fallback(settings):
    settings.WHATSAPP_TEMPLATE_RATES = RATES

    assert template_costs.rate_for(category="marketing", country="BR") == Decimal("0.35")
    assert template_costs.rate_for(category="UTILITY", country="AR") == Decimal("0.10")


def _sent_template(bot, cliente, name, wamid):
    conversation, _ = Conversation.objects.get_or_create(
        tenant=bot.tenant, chatbot=bot, cliente=cliente
    )
    return Message.objects.create(
        tenant=bot.tenant,
        conversation=conversation,
        direction="out",
        type="template",
        status="sent",
        provider_message_id=wamid,
        payload={"kind": "template", "name": name, "language": "pt_BR", "params": []},
        sent_at=timezone.now(),
    )


def _status(wamid: str, status: str, recipient: str) -> dict:
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "5511900000000",
                "phone_number_id": PHONE_NUMBER_ID,
            },
            "statuses": [
                {
                    "id": wamid,
                    "status": status,
                    "timestamp": str(int(timezone.now().timestamp())),
                    "recipient_id": recipient,
                }
            ],
        },
    }


def test_each_delivered_template_costs_its_category_in_the_customers_country(
    client, tenant, settings, celery_eager, django_capture_on_commit_callbacks
):
    settings.WHATSAPP_TEMPLATE_RATES = RATES
    bot = create_bot(tenant)
    for name, category in (("promo", "MARKETING"), ("pedido", "UTILITY")):
        MessageTemplate.objects.create(
            tenant=tenant, chatbot=bot, name=name, category=category, approved=True
        )
    brasileira = ClienteFactory(tenant=tenant, telefone="5511987654321")
    americana = ClienteFactory(tenant=tenant, telefone="15550783881")
    _sent_template(bot, brasileira, "promo", "wamid.A")
    _sent_template(bot, americana, "promo", "wamid.B")
    _sent_template(bot, brasileira, "pedido", "wamid.C")
    _sent_template(bot, brasileira, "pedido", "wamid.D")  # never delivered: free

    with django_capture_on_commit_callbacks(execute=True):
        for wamid, recipient in (
            ("wamid.A", "5511987654321"),
            ("wamid.B", "15550783881"),
            ("wamid.C", "5511987654321"),
        ):
            post(client, envelope(_status(wamid, "delivered", recipient)))
            post(client, envelope(_status(wamid, "read", recipient)))  # counted once

    rows = {(r.category, r.country): (r.delivered, r.cost) for r in TemplateCost.objects.all()}
    assert rows == {
        ("MARKETING", "BR"): (1, Decimal("0.3500")),
        ("MARKETING", "US"): (1, Decimal("0.5000")),
        ("UTILITY", "BR"): (1, Decimal("0.0400")),
    }
    summary = analytics.analytics_summary(tenant=tenant)
    assert summary["templates_cost"] == Decimal("0.89")
    assert summary["estimated_cost"] >= Decimal("0.89")
    assert [
        (r["category"], r["country"], r["delivered"]) for r in summary["templates_by_category"]
    ] == [
        ("MARKETING", "US", 1),
        ("MARKETING", "BR", 1),
        ("UTILITY", "BR", 1),
    ]
    today = analytics.analytics_history(tenant=tenant, days=1)[0]
    assert today.estimated_cost == Decimal("0.89")


def test_another_tenants_deliveries_are_not_counted(tenant, other_tenant):
    template_costs.template_delivered(tenant_id=other_tenant.pk, category="MARKETING", phone="5511")

    assert analytics.analytics_summary(tenant=tenant)["templates_cost"] == Decimal("0.00")
