"""Creating a campaign draft from the staff app's form: errors at the field, then the draft's
page with the audience's count and each first customer's message."""

from __future__ import annotations

import pytest

from billing.models import Membership
from campaigns.models import Campaign
from clientes.models import Cliente
from tests.factories import ChatbotFactory, MembershipFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


def _as(client, tenant, role):
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


def test_an_admin_creates_a_draft_and_sees_its_count_and_preview(client, tenant):
    bot = ChatbotFactory(tenant=tenant, name="Loja")
    oferta = MessageTemplateFactory(
        chatbot=bot,
        name="oferta",
        category="MARKETING",
        body_text="Oi {{1}}, hoje tem {{2}}!",
        body_examples=["Ana", "desconto"],
    )
    Cliente.objects.create(tenant=tenant, nome="Ana Souza", telefone="5511987650001", tags=["vip"])
    Cliente.objects.create(tenant=tenant, nome="Bruno", telefone="5511987650002", tags=["vip"])
    Cliente.objects.create(tenant=tenant, nome="Caio", telefone="5511987650003")
    _as(client, tenant, Membership.Role.ADMIN)
    assert "Nova campanha" in client.get("/atendimento/campanhas/").content.decode()
    form = {
        "name": "Terça do desconto",
        "chatbot": bot.pk,
        "template": oferta.pk,
        "a-0-source": "field",
        "a-0-field": "primeiro_nome",
        "a-1-source": "value",
        "a-1-value": "",
        "tags": ["vip"],
        "goal": "reply",
    }
    wrong = client.post("/atendimento/campanhas/nova/", form).content.decode()
    assert 'data-row="1"' in wrong and "Escreva o texto." in wrong
    assert not Campaign.objects.exists()

    form["a-1-value"] = "10% em tudo"
    page = client.post("/atendimento/campanhas/nova/", form, follow=True).content.decode()
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.DRAFT and campaign.audience == {"tags": ["vip"]}
    assert "Público: 2 clientes" in page
    assert "Oi Ana, hoje tem 10% em tudo!" in page and "Oi Bruno" in page


def test_an_agent_cannot_create_one(client, tenant):
    _as(client, tenant, Membership.Role.AGENT)
    assert client.get("/atendimento/campanhas/nova/").status_code == 403
