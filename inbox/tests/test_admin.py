"""The inbox's admin: owners configure queues and quick replies; tickets and notes are
read-only; another tenant's rows are not found."""

from __future__ import annotations

import pytest

from billing.models import Membership
from compliance.models import AuditLog
from inbox import services
from inbox.models import Queue, QuickReply
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _queue_form(tenant, **extra) -> dict:
    data = {
        "tenant": tenant.pk,
        "name": "Vendas",
        "slug": "vendas",
        "time_zone": "",
        "position_message": "Você é o {position}º da fila.",
        "closed_message": "",
        "timeout_minutes": "15",
        "timeout_action": "bot",
        "timeout_message": "",
        "max_per_agent": "2",
        "auto_assign": "on",
        "hours-TOTAL_FORMS": "1",
        "hours-INITIAL_FORMS": "0",
        "hours-0-weekday": "0",
        "hours-0-opens": "08:00",
        "hours-0-closes": "18:00",
        "holidays-TOTAL_FORMS": "1",
        "holidays-INITIAL_FORMS": "0",
        "holidays-0-date": "2026-12-25",
        "holidays-0-name": "Natal",
    }
    data.update(extra)
    return data


def test_an_owner_creates_a_queue_with_hours_holidays_and_members(client, owner, tenant, agent):
    client.force_login(owner)

    response = client.post("/admin/inbox/queue/add/", _queue_form(tenant, members=[agent.pk]))

    assert response.status_code == 302, response.content.decode()[:3000]
    queue = Queue.objects.get(slug="vendas")
    assert queue.auto_assign and queue.max_per_agent == 2
    assert list(queue.members.all()) == [agent]
    hours = queue.hours.get()
    assert (hours.tenant_id, hours.opens.hour) == (tenant.pk, 8)
    assert queue.holidays.get().name == "Natal"
    assert AuditLog.objects.filter(action="create", object_type="inbox.queue").exists()


def test_a_member_of_another_tenant_cannot_join_the_queue(client, owner, tenant, other_tenant):
    stranger = MembershipFactory(tenant=other_tenant).user
    client.force_login(owner)

    response = client.post("/admin/inbox/queue/add/", _queue_form(tenant, members=[stranger.pk]))

    assert response.status_code == 200  # the form again, with the error
    assert not Queue.objects.filter(slug="vendas").exists()


def test_an_agent_reads_queues_but_cannot_change_them(client, tenant, suporte):
    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(agent)

    assert client.get("/admin/inbox/queue/").status_code == 200
    assert client.get("/admin/inbox/queue/add/").status_code == 403
    client.post(f"/admin/inbox/queue/{suporte.pk}/change/", _queue_form(tenant, name="X"))
    assert Queue.objects.get(pk=suporte.pk).name == "Suporte"


def test_another_tenants_queue_is_not_found(client, owner, other_tenant):
    theirs = Queue.objects.create(tenant=other_tenant, name="Deles", slug="deles")
    client.force_login(owner)

    assert client.get(f"/admin/inbox/queue/{theirs.pk}/change/").status_code == 302
    assert "Deles" not in client.get("/admin/inbox/queue/").content.decode()


def test_quick_replies_are_unique_per_queue(client, owner, tenant):
    client.force_login(owner)
    form = {"tenant": tenant.pk, "shortcut": "pix", "text": "Chave: 123", "queue": ""}

    assert client.post("/admin/inbox/quickreply/add/", form).status_code == 302
    assert client.post("/admin/inbox/quickreply/add/", form).status_code == 200
    assert QuickReply.objects.count() == 1


def test_tickets_and_notes_are_read_only(client, owner, conversation, agent):
    ticket = services.ticket_open(conversation)
    services.note_add(conversation, agent, "Ligar às 15h")
    client.force_login(owner)

    listing = client.get("/admin/inbox/ticket/")
    page = client.get(f"/admin/inbox/ticket/{ticket.pk}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    assert "Ligar às 15h" in page.content.decode()
    assert client.get("/admin/inbox/ticket/add/").status_code == 403
    assert client.get("/admin/inbox/note/").status_code == 200
