"""A campaign's progress bar in a real browser (Playwright + Debian's chromium): it moves
while the campaign sends, without reloading the page, and ends at 100 %."""

from __future__ import annotations

import time

import pytest

from billing.models import Membership
from campaigns import services
from campaigns.models import Campaign
from clientes.models import Cliente
from pedidos.models import ItemPedido, Pedido
from staff.tests.browser import login, shot
from tests.factories import (
    ChatbotFactory,
    MembershipFactory,
    MessageTemplateFactory,
    ProdutoFactory,
)

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


def test_an_owner_builds_a_campaign_without_json_and_sees_its_preview(new_page):
    """On a phone: a product filter changes the count, two rows fill the template's values
    (a customer field, a fixed text), and the draft's page previews each message."""
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
    bolo = ProdutoFactory(categoria__tenant=tenant, nome="Bolo de cenoura")
    clientes = Cliente.objects.bulk_create(
        [Cliente(tenant=tenant, nome=f"Cliente {i}", telefone=f"55119876{i:05d}") for i in range(3)]
    )
    pedido = Pedido.objects.create(tenant=tenant, cliente=clientes[0])
    ItemPedido.objects.create(
        tenant=tenant, pedido=pedido, produto=bolo, quantidade=1, preco_unitario="20"
    )
    page = new_page()
    login(page, admin.user)
    page.goto("/atendimento/campanhas/")
    page.click("text=Nova campanha")
    page.wait_for_selector("#audience-count [data-reached='3']")
    page.fill("#id_name", "Terça do bolo")
    page.select_option("#id_chatbot", str(bot.pk))
    page.select_option("#id_template", str(oferta.pk))
    page.wait_for_selector("[name=a-1-source]")  # the template's two values, as rows
    assert page.is_visible("[name=a-0-field]") and not page.is_visible("[name=a-0-value]")
    page.select_option("[name=a-0-field]", "primeiro_nome")
    page.select_option("[name=a-1-source]", "value")
    page.fill("[name=a-1-value]", "10% no bolo")
    page.select_option("#id_bought_product", str(bolo.pk))
    page.wait_for_selector("#audience-count [data-reached='1']")
    assert page.inner_text("#audience-count strong") == "Alcança 1 cliente"
    assert page.locator("textarea").count() == 0
    shot(page, "campaign-form-rows")
    page.click("text=Criar rascunho")
    page.wait_for_selector(".campaign-preview")
    assert "Público: 1 cliente ·" in page.inner_text(".campaign-page")
    assert (
        page.inner_text(".campaign-preview li:first-child pre")
        == "Oi Cliente, hoje tem 10% no bolo!"
    )
    assert Campaign.objects.get().audience == {"bought_product": bolo.pk}
    shot(page, "campaign-created-preview")
