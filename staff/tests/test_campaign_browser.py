"""A campaign's progress bar in a real browser (Playwright + Debian's chromium): it moves
while the campaign sends, without reloading the page, and ends at 100 %."""

from __future__ import annotations

import time

import pytest

from billing.models import Membership
from campaigns import services
from campaigns.models import Campaign
from clientes.models import Cliente
from staff.tests.browser import login, shot
from tests.factories import ChatbotFactory, MembershipFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _bar(page) -> int:
    return int(page.get_attribute(".campaign-page progress", "value"))


def _until(page, check, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = _bar(page)
        if check(value):
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"the bar stayed at {_bar(page)}%")


def test_the_progress_bar_moves_while_the_campaign_sends(new_page, fake_graph, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)  # this test runs the batches
    admin = MembershipFactory(role=Membership.Role.ADMIN, user__first_name="Ana")
    tenant = admin.tenant
    bot = ChatbotFactory(tenant=tenant, name="Loja", messaging_limit_tier="TIER_UNLIMITED")
    promo = MessageTemplateFactory(chatbot=bot, name="promo_maio", category="MARKETING")
    Cliente.objects.bulk_create(
        [Cliente(tenant=tenant, nome=f"C{i}", telefone=f"55119876{i:05d}") for i in range(30)]
    )
    campaign = services.campaign_create(
        tenant=tenant, chatbot=bot, name="Promoção de maio", variants=[{"template": promo}]
    )
    services.campaign_start(campaign=campaign)

    page = new_page(width=1000, height=900)
    login(page, admin.user)
    page.goto(f"/atendimento/campanhas/{campaign.pk}/")
    assert _bar(page) == 0
    seen = [0]
    for _batch in range(3):
        services.campaign_run(campaign_id=campaign.pk, batch=10, max_batches=1)
        seen.append(_until(page, lambda v, last=seen[-1]: v > last))
        if len(seen) == 3:
            shot(page, "campaign-progress-moving")

    assert seen == [0, 33, 67, 100]
    services.campaign_run(campaign_id=campaign.pk)  # nothing left: the campaign is done
    page.wait_for_selector(".campaign-progress[data-status=done]")
    assert page.inner_text(".progress-counts").startswith("30 de 30 enviadas")
    assert page.inner_text(".numbers div:first-child dd") == "30"  # the numbers moved too
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.DONE
    shot(page, "campaign-progress-done")


def test_an_admin_creates_a_campaign_and_sees_its_count_and_preview(new_page):
    admin = MembershipFactory(role=Membership.Role.ADMIN, user__first_name="Ana")
    tenant = admin.tenant
    bot = ChatbotFactory(tenant=tenant, name="Loja")
    oferta = MessageTemplateFactory(
        chatbot=bot,
        name="oferta",
        category="MARKETING",
        body_text="Oi {{1}}, hoje tem {{2}}!",
        body_examples=["Ana", "desconto"],
    )
    Cliente.objects.bulk_create(
        [
            Cliente(tenant=tenant, nome=f"Cliente {i}", telefone=f"55119876{i:05d}", tags=["vip"])
            for i in range(3)
        ]
    )
    page = new_page(width=1000, height=1200)
    login(page, admin.user)
    page.goto("/atendimento/campanhas/")
    page.click("text=Nova campanha")
    page.fill("#id_name", "Terça do desconto")
    page.select_option("#id_chatbot", str(bot.pk))
    page.select_option("#id_template", str(oferta.pk))
    page.fill("#id_params", '{"field": "primeiro_nome"}')
    page.fill("#id_tags", "vip")
    page.click("text=Criar rascunho")
    assert "mas foram dados 1" in page.inner_text('[data-field="params"] .field-error')
    page.fill("#id_params", '{"field": "primeiro_nome"}, {"value": "10% em tudo"}')
    page.click("text=Criar rascunho")
    page.wait_for_selector(".campaign-preview")
    assert "Público: 3 clientes" in page.inner_text(".campaign-page")
    assert (
        page.inner_text(".campaign-preview li:first-child pre")
        == "Oi Cliente, hoje tem 10% em tudo!"
    )
    shot(page, "campaign-created-preview")
