"""Campaigns through the REST API: create, counts, start/pause/resume/cancel/retry, roles,
tenants, the audience count, the CSV export, contact imports and scheduled messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from billing.models import Membership
from campaigns.models import Campaign, ScheduledMessage
from campaigns.tests.conftest import MONDAY_TEN, customers
from chatbots.models import Message
from insights import segments
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.factories import ChatbotFactory, MembershipFactory, MessageTemplateFactory

BASE = "/api/campaigns/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def as_owner(owner):
    return client_for(owner)


@pytest.fixture
def as_agent(tenant):
    return client_for(MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user)


def _create(client, bot, promo, **extra):
    body = {
        "name": "Maio",
        "chatbot": bot.pk,
        "template": promo.pk,
        "params": [{"field": "primeiro_nome"}],
        "audience": {"tags": ["vip"]},
        **extra,
    }
    return client.post(BASE, body, format="json")


def test_an_owner_creates_starts_and_reads_the_numbers(
    tenant, bot, promo, as_owner, run, fake_graph
):
    customers(tenant, 3, tags=["vip"])
    customers(tenant, 2, start=100)  # not vip

    count = as_owner.post(BASE + "audience-count/", {"audience": {"tags": ["vip"]}}, format="json")
    assert count.json() == {"customers": 3}
    created = _create(as_owner, bot, promo)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "draft"

    preview = as_owner.get(f"{BASE}{pk}/preview/").json()
    assert [row["params"] for row in preview] == [["Cliente"]] * 3

    started = run(lambda: as_owner.post(f"{BASE}{pk}/start/"))
    assert len(started) == 3

    detail = as_owner.get(f"{BASE}{pk}/").json()
    assert detail["status"] == "done"
    assert detail["numbers"]["sent"] == 3 and detail["numbers"]["progress"] == 100
    assert detail["costs"][0]["category"] == "MARKETING"
    assert detail["variants"][0]["template_name"] == "promo_maio"

    csv = as_owner.get(f"{BASE}{pk}/export/")
    assert csv["Content-Type"] == "text/csv"
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("telefone,nome,variante") and len(lines) == 4

    again = as_owner.post(f"{BASE}{pk}/start/")
    assert again.status_code == 409
    assert "rascunho" in again.json()["detail"]


def test_pause_resume_and_cancel(tenant, bot, promo, as_owner, clock):
    customers(tenant, 2, tags=["vip"])
    pk = _create(
        as_owner, bot, promo, scheduled_at=(MONDAY_TEN + timedelta(days=1)).isoformat()
    ).json()["id"]
    assert as_owner.post(f"{BASE}{pk}/start/").json()["status"] == "scheduled"
    assert as_owner.post(f"{BASE}{pk}/pause/").json()["status"] == "paused"
    assert as_owner.post(f"{BASE}{pk}/pause/").status_code == 409
    assert as_owner.post(f"{BASE}{pk}/resume/").json()["status"] == "running"
    assert as_owner.post(f"{BASE}{pk}/cancel/").json()["status"] == "canceled"


def test_a_time_without_offset_is_the_tenants_clock(tenant, bot, promo, as_owner):
    tenant.time_zone = "America/Manaus"  # UTC-4, an hour behind São Paulo
    tenant.save(update_fields=["time_zone"])
    pk = _create(as_owner, bot, promo, scheduled_at="2030-05-06T10:00:00").json()["id"]
    assert Campaign.objects.get(pk=pk).scheduled_at.isoformat() == "2030-05-06T14:00:00+00:00"


def test_retry_failed_sends_again_only_the_retryable_failures(
    tenant, bot, promo, as_owner, run, fake_graph
):
    a, b, c = customers(tenant, 3, tags=["vip"])
    pk = _create(as_owner, bot, promo).json()["id"]
    run(lambda: as_owner.post(f"{BASE}{pk}/start/"))
    rows = Message.objects.filter(conversation__cliente__in=[a, b]).order_by("pk")
    rows.filter(conversation__cliente=a).update(status="failed", error_code="131049")
    rows.filter(conversation__cliente=b).update(status="failed", error_code="131026")

    sent = run(lambda: as_owner.post(f"{BASE}{pk}/retry-failed/"))

    assert sent == [f"+{a.telefone}"]


def test_agents_read_but_do_not_run_campaigns(tenant, bot, promo, as_owner, as_agent):
    customers(tenant, 1, tags=["vip"])
    pk = _create(as_owner, bot, promo).json()["id"]
    assert as_agent.get(f"{BASE}{pk}/").status_code == 200
    refused = as_agent.post(f"{BASE}{pk}/start/")
    assert refused.status_code == 403
    assert "iniciar campanhas" in refused.json()["detail"]
    assert _create(as_agent, bot, promo).status_code == 403


def test_another_tenants_campaigns_bots_and_templates_are_not_found(
    tenant, other_tenant, bot, promo, as_owner
):
    theirs = ChatbotFactory(tenant=other_tenant)
    their_template = MessageTemplateFactory(chatbot=theirs)
    response = _create(as_owner, theirs, their_template)
    assert response.status_code == 400
    assert set(response.json()) >= {"chatbot", "template"}
    stranger = client_for(MembershipFactory(tenant=other_tenant).user)
    pk = _create(as_owner, bot, promo).json()["id"]
    assert stranger.get(f"{BASE}{pk}/").status_code == 404
    assert stranger.post(f"{BASE}{pk}/start/").status_code == 404


def test_a_template_not_approved_and_an_unknown_criterion_are_refused(bot, as_owner):
    pending = MessageTemplateFactory(chatbot=bot, approved=False, name="em_revisao")
    response = _create(as_owner, bot, pending)
    assert response.status_code == 400
    assert "não está aprovado" in response.json()["detail"]
    response = _create(as_owner, bot, pending, audience={"idade": 30})
    assert "Critério desconhecido: idade." in str(response.json()["audience"])


def test_a_csv_import_through_the_api(as_owner, as_agent):
    upload = SimpleUploadedFile(
        "lista.csv", b"telefone,consentimento\n11987650009,site\n", "text/csv"
    )
    assert as_agent.post(BASE + "imports/", {"file": upload}).status_code == 403
    upload.seek(0)
    response = as_owner.post(BASE + "imports/", {"file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 1 and response.json()["rejected"] == []


def test_an_agent_schedules_and_cancels_a_message(tenant, bot, as_agent, cliente, clock):
    response = as_agent.post(
        BASE + "scheduled-messages/",
        {
            "chatbot": bot.pk,
            "cliente": cliente.pk,
            "text": "Seu pedido chegou",
            "send_at": "2030-05-06T15:00:00",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    row = ScheduledMessage.objects.get()
    assert row.send_at == MONDAY_TEN + timedelta(hours=5)
    cancel = as_agent.post(f"{BASE}scheduled-messages/{row.pk}/cancel/")
    assert cancel.json()["status"] == "canceled"
    assert as_agent.post(f"{BASE}scheduled-messages/{row.pk}/cancel/").status_code == 409


def test_a_customer_segment_is_an_audience_the_api_counts_and_sends_to(
    tenant, bot, promo, as_owner, run
):
    late, regular = customers(tenant, 2)
    now = MONDAY_TEN
    for cliente, last_days_ago in ((late, 90), (regular, 0)):
        Pedido.objects.bulk_create(
            Pedido(
                tenant=tenant,
                cliente=cliente,
                status=StatusPedido.ENTREGUE,
                total=50,
                confirmado_em=now - timedelta(days=last_days_ago + 7 * i),
            )
            for i in range(6)
        )
    segments.segments_refresh(tenant_id=tenant.pk, now=now)

    audience = {"segment": ["perdidos"]}
    count = as_owner.post(BASE + "audience-count/", {"audience": audience}, format="json")
    assert count.json() == {"customers": 1}
    bad = _create(as_owner, bot, promo, audience={"segment": ["vips"]})
    assert bad.status_code == 400 and "segment" in str(bad.json()["audience"])
    created = _create(as_owner, bot, promo, audience=audience)
    assert created.status_code == 201, created.content

    sent = run(lambda: as_owner.post(f"{BASE}{created.json()['id']}/start/"))

    assert sent == [f"+{late.telefone}"]
