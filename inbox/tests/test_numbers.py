"""The inbox's numbers: first response, resolution, handled per agent and per queue, in the
analytics API and the tenant's dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Membership, Plan, Subscription
from billing.services import subscription_start
from inbox import numbers, services
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=1)


def _handled(tenant, queue, agent, *, answer_after: int, close_after: int | None):
    """A ticket opened at T0, answered by `agent` `answer_after` seconds later, closed
    `close_after` seconds after opening (None: still open)."""
    conversation = ConversationFactory(
        tenant=tenant, chatbot__tenant=tenant, chatbot__provider="whaticket"
    )
    with time_machine.travel(T0, tick=False):
        ticket = services.ticket_open(conversation, queue=queue)
    with time_machine.travel(T0 + timedelta(seconds=answer_after), tick=False):
        services.staff_reply(conversation, agent, text="Oi!")
    if close_after is not None:
        with time_machine.travel(T0 + timedelta(seconds=close_after), tick=False):
            services.ticket_close(ticket, agent)
    return ticket


@pytest.fixture
def worked(tenant, suporte, financeiro, agent, other_agent):
    _handled(tenant, suporte, agent, answer_after=60, close_after=600)
    _handled(tenant, suporte, agent, answer_after=120, close_after=None)
    _handled(tenant, financeiro, other_agent, answer_after=300, close_after=1200)
    services.ticket_open(ConversationFactory(tenant=tenant, chatbot__tenant=tenant))  # waiting
    return tenant


def test_the_numbers_per_agent_and_queue(worked, agent, other_agent):
    got = numbers.attendance_numbers(
        tenant_id=worked.pk, start=T0 - timedelta(hours=1), end=timezone.now()
    )

    assert got["handled"] == 3 and got["resolved"] == 2 and got["waiting_now"] == 1
    assert got["avg_first_response_seconds"] == 160.0  # (60 + 120 + 300) / 3
    assert got["avg_resolution_seconds"] == 900.0  # (600 + 1200) / 2
    by_agent = {row["user"]: row for row in got["per_agent"]}
    assert by_agent[agent.pk]["handled"] == 2
    assert by_agent[agent.pk]["avg_first_response_seconds"] == 90.0
    assert by_agent[other_agent.pk]["avg_resolution_seconds"] == 1200.0
    by_queue = {row["name"]: row for row in got["per_queue"]}
    assert by_queue["Suporte"]["handled"] == 2 and by_queue["Financeiro"]["resolved"] == 1


def test_the_numbers_cost_the_same_queries_for_more_agents(worked, tenant, financeiro):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            numbers.attendance_numbers(tenant_id=tenant.pk, start=T0, end=timezone.now())
        return len(ctx.captured_queries)

    before = queries()
    extra = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    _handled(tenant, financeiro, extra, answer_after=10, close_after=20)
    assert queries() == before


def test_another_tenant_has_none_of_them(worked, other_tenant):
    got = numbers.attendance_numbers(
        tenant_id=other_tenant.pk, start=T0 - timedelta(hours=1), end=timezone.now()
    )

    assert got["handled"] == 0 and got["per_agent"] == [] and got["waiting_now"] == 0


@pytest.fixture
def subscribed(tenant):
    plan = Plan.objects.create(name="Essencial", max_messages_per_month=1000)
    sub = subscription_start(tenant=tenant, plan=plan)
    # A monthly period that started before the tickets did.
    start = timezone.now() - timedelta(days=2)
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=start, current_period_end=start + timedelta(days=30)
    )


def test_the_analytics_api_shows_them(worked, subscribed, key_client):
    body = key_client.get("/api/analytics/summary/").json()

    attendance = body["attendance"]
    assert attendance["handled"] == 3 and attendance["avg_resolution_seconds"] == 900.0
    assert {row["name"] for row in attendance["per_queue"]} == {"Suporte", "Financeiro"}


def test_the_dashboard_shows_them(worked, subscribed, client, owner, agent):
    client.force_login(owner)

    html = client.get(f"/admin/billing/tenant/{worked.pk}/dashboard/").content.decode()

    assert "Atendimento humano" in html
    assert "Tempo médio até a primeira resposta" in html and "160 s" in html
    assert "Por atendente" in html and agent.username in html
    assert "Por fila" in html and "Financeiro" in html
