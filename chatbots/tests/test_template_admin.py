"""The templates' admin: the preview as the customer sees it, what Meta would refuse, and
submit / sync for owners and admins only (chatbots.template_admin)."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Chatbot, MessageTemplate
from chatbots.tests.template_support import WABA, login


@pytest.fixture
def bot(tenant, fake_graph):
    return Chatbot.objects.create(
        tenant=tenant, name="Padaria", provider="meta", waba_id=WABA, access_token="EAAG-tk"
    )


@pytest.fixture
def template(bot):
    return MessageTemplate.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        name="pedido_saiu",
        status="DRAFT",
        body_text="Olá {{1}}, seu pedido {{2}} saiu para entrega.",
        body_examples=["Maria", "#42"],
        footer_text="Padaria Pão Quente",
        buttons=[{"type": "QUICK_REPLY", "text": "Falar com a loja"}],
    )


def test_the_page_shows_the_message_as_the_customer_sees_it(client, tenant, template):
    login(client, tenant, Membership.Role.AGENT)

    page = client.get(f"/admin/chatbots/messagetemplate/{template.pk}/change/").content.decode()

    assert "Olá Maria, seu pedido #42 saiu para entrega.<br>" in page
    assert "Falar com a loja</div>" in page
    assert "Nada: pode ser enviado para análise." in page


def test_the_page_lists_what_meta_would_refuse(client, tenant, template):
    MessageTemplate.objects.filter(pk=template.pk).update(footer_text="Oi {{1}}")
    login(client, tenant, Membership.Role.AGENT)

    page = client.get(f"/admin/chatbots/messagetemplate/{template.pk}/change/").content.decode()

    assert "O rodapé não pode ter parâmetros." in page


def test_an_owner_submits_it_to_meta(client, tenant, template, fake_graph):
    login(client, tenant, Membership.Role.OWNER)

    response = client.post(
        "/admin/chatbots/messagetemplate/",
        {"action": "submit_to_meta", "_selected_action": [template.pk]},
        follow=True,
    )

    assert "enviado; situação Em análise na Meta" in response.content.decode()
    assert [r.path for r in fake_graph.requests] == [f"/v23.0/{WABA}/message_templates"]
    template.refresh_from_db()
    assert template.status == "PENDING"


def test_an_agent_cannot_submit_or_sync(client, tenant, template, fake_graph):
    login(client, tenant, Membership.Role.AGENT)

    for action in ("submit_to_meta", "sync_from_meta"):
        client.post(
            "/admin/chatbots/messagetemplate/",
            {"action": action, "_selected_action": [template.pk]},
        )

    assert fake_graph.requests == []


def test_the_chatbot_action_syncs_its_templates(client, tenant, bot, fake_graph):
    fake_graph.add_template(
        WABA,
        name="hello_world",
        language="en_US",
        status="APPROVED",
        category="UTILITY",
        components=[{"type": "BODY", "text": "Hello"}],
    )
    login(client, tenant, Membership.Role.ADMIN)

    response = client.post(
        "/admin/chatbots/chatbot/",
        {"action": "sync_templates", "_selected_action": [bot.pk]},
        follow=True,
    )

    assert (
        "Padaria: 1 novo(s), 0 atualizado(s), 0 excluído(s) na Meta." in response.content.decode()
    )
    assert MessageTemplate.objects.get(name="hello_world").approved


def test_another_tenants_templates_are_not_listed(client, tenant, other_tenant, template):
    login(client, other_tenant, Membership.Role.OWNER)

    page = client.get("/admin/chatbots/messagetemplate/").content.decode()

    assert "pedido_saiu" not in page
    assert client.get(f"/admin/chatbots/messagetemplate/{template.pk}/change/").status_code in (
        302,
        404,
    )


def test_the_approved_box_under_a_bot_cannot_approve_what_meta_rejected(client, tenant, bot):
    from chatbots.tests.test_admin import page_data

    rejected = MessageTemplate.objects.create(
        tenant=tenant, chatbot=bot, name="promo", status="REJECTED", approved=False
    )
    login(client, tenant, Membership.Role.OWNER)
    url = f"/admin/chatbots/chatbot/{bot.pk}/change/"

    data = page_data(client.get(url), **{"templates-0-approved": "on"})
    assert client.post(url, data).status_code == 302

    rejected.refresh_from_db()
    assert not rejected.approved
