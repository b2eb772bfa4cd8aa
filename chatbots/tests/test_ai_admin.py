"""The assistant's admin: the knowledge base per tenant, and the notice when AI is off."""

from __future__ import annotations

from chatbots.models import BusinessProfile, KnowledgeEntry
from tests.factories import MembershipFactory

ADMIN = "/admin/chatbots/knowledgeentry/"


def test_staff_see_only_their_tenants_entries(client, tenant, other_tenant, owner):
    KnowledgeEntry.objects.create(tenant=tenant, question="Abrem domingo?", answer="Sim, 8h-12h.")
    KnowledgeEntry.objects.create(tenant=other_tenant, question="Convênio?", answer="Unimed.")
    client.force_login(owner)

    page = client.get(ADMIN).content.decode()

    assert "Abrem domingo?" in page
    assert "Convênio?" not in page
    other = KnowledgeEntry.objects.get(tenant=other_tenant)
    assert client.get(f"{ADMIN}{other.pk}/change/").status_code in (302, 404)


def test_the_admin_says_when_ai_is_off_and_how_to_turn_it_on(client, owner, settings):
    settings.GEMINI_API_KEY = ""
    client.force_login(owner)

    page = client.get(ADMIN).content.decode()

    assert "A IA está desligada" in page
    assert "GEMINI_API_KEY" in page


def test_with_a_key_there_is_no_notice(client, owner, settings):
    settings.GEMINI_API_KEY = "configured"
    client.force_login(owner)

    assert "A IA está desligada" not in client.get(ADMIN).content.decode()


def test_an_owner_adds_an_entry_and_a_question_is_required_for_question_and_answer(
    client, tenant, owner
):
    client.force_login(owner)
    base = {"tenant": tenant.pk, "kind": "qa", "answer": "Aceitamos Pix.", "active": "on"}

    refused = client.post(f"{ADMIN}add/", {**base, "question": ""})
    assert refused.status_code == 200
    assert "Informe a pergunta" in refused.content.decode()

    client.post(f"{ADMIN}add/", {**base, "question": "Aceitam Pix?"})
    assert KnowledgeEntry.objects.get(tenant=tenant).question == "Aceitam Pix?"


def test_an_agent_sees_the_knowledge_but_cannot_change_it(client, tenant):
    agent = MembershipFactory(tenant=tenant, role="agent").user
    entry = KnowledgeEntry.objects.create(tenant=tenant, question="Wi-fi?", answer="Sim.")
    client.force_login(agent)

    assert client.get(ADMIN).status_code == 200
    client.post(
        f"{ADMIN}{entry.pk}/change/",
        {"tenant": tenant.pk, "kind": "qa", "question": "Wi-fi?", "answer": "Não."},
    )
    entry.refresh_from_db()
    assert entry.answer == "Sim."


def test_the_business_profile_is_edited_per_tenant(client, tenant, owner):
    client.force_login(owner)

    client.post(
        "/admin/chatbots/businessprofile/add/",
        {"tenant": tenant.pk, "address": "Rua A, 1", "allowed_link_domains": "loja.com.br"},
    )

    assert BusinessProfile.objects.get(tenant=tenant).address == "Rua A, 1"
