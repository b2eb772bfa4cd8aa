"""Campaigns in the admin: the progress bar follows the run, actions go through the
services, and another tenant's campaign is not there."""

from __future__ import annotations

import pytest

from billing.models import Membership
from campaigns import services
from campaigns.models import Campaign
from campaigns.tests.conftest import customers
from tests.factories import MembershipFactory, TenantFactory


@pytest.fixture
def campaign(tenant, bot, promo, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    customers(tenant, 4)
    return services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"value": "10%"}]}],
    )


def _admin(client, tenant):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


def test_the_progress_bar_follows_the_run(client, tenant, campaign):
    _admin(client, tenant)
    services.campaign_start(campaign=campaign)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f'data-progress-url="/admin/campaigns/campaign/{campaign.pk}/progress/"' in page
    assert 'data-active="1"' in page and "campaigns/admin_progress.js" in page
    url = f"/admin/campaigns/campaign/{campaign.pk}/progress/"
    assert client.get(url).json()["progress"] == 0

    services.campaign_run(campaign_id=campaign.pk, batch=2, max_batches=1)

    assert client.get(url).json() == {
        "progress": 50,
        "active": True,
        "label": "50% · 2 de 4 enviadas · Enviando",
    }


def test_the_pause_action_and_another_tenant(client, tenant, campaign):
    _admin(client, tenant)
    services.campaign_start(campaign=campaign)
    client.post(
        "/admin/campaigns/campaign/",
        {"action": "pause", "_selected_action": [campaign.pk]},
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED

    _admin(client, TenantFactory())
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").status_code == 404


def test_a_drafts_page_previews_each_first_customers_message(client, tenant, bot):
    from tests.factories import MessageTemplateFactory

    oferta = MessageTemplateFactory(
        chatbot=bot, name="oferta", body_text="Oi {{1}}, {{2}} hoje!", body_examples=["A", "B"]
    )
    customers(tenant, 2)
    draft = services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Prévia",
        variants=[{"template": oferta, "params": [{"field": "nome"}, {"value": "10% off"}]}],
    )
    _admin(client, tenant)
    page = client.get(f"/admin/campaigns/campaign/{draft.pk}/change/").content.decode()
    assert "Oi Cliente 0, 10% off hoje!" in page and "Oi Cliente 1, 10% off hoje!" in page
