"""Analytics: the summary matches a hand-built fixture, the history is per day, CSV works,
the admin dashboard draws offline, and no tenant ever sees another's numbers."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import DailyUsage, Subscription
from billing.services import api_key_create, subscription_start
from chatbots.models import Chatbot, Conversation, Message
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory, MembershipFactory


def _midnight(days_ago: int) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def period_start():
    return _midnight(10) + timedelta(hours=9)


def _message(conversation, direction, at, sent_after=None):
    row = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        direction=direction,
        status=Message.Status.SENT if direction == "out" else Message.Status.RECEIVED,
    )
    sent_at = at + timedelta(seconds=sent_after) if sent_after is not None else None
    Message.objects.filter(pk=row.pk).update(created_at=at, sent_at=sent_at)
    return row


def _pedido(tenant, cliente, status, total, confirmed_at):
    return Pedido.objects.create(
        tenant=tenant, cliente=cliente, status=status, total=total, confirmado_em=confirmed_at
    )


def _agendamentos(tenant, cliente, start, statuses):
    from agenda.models import Agendamento, Servico

    servico = Servico.objects.create(tenant=tenant, nome="Consulta", duracao_minutos=30)
    for i, status in enumerate(statuses):
        inicio = start + timedelta(days=1, hours=i)
        Agendamento.objects.create(
            tenant=tenant,
            cliente=cliente,
            servico=servico,
            inicio=inicio,
            fim=inicio + timedelta(minutes=30),
            status=status,
            origem="admin",
        )


def _build(tenant, plan, start, *, scale=1):
    """Usage, messages, orders and appointments of `tenant`; `scale` varies the numbers so
    two tenants never look alike."""
    sub = subscription_start(tenant=tenant, plan=plan)
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=start, current_period_end=start + timedelta(days=30)
    )
    first_day = timezone.localdate(start)
    DailyUsage.objects.create(
        tenant=tenant,
        day=first_day - timedelta(days=1),  # before the period: left out
        messages_in=1000,
        messages_out=1000,
        ai_tokens=1000,
        estimated_cost=Decimal("99"),
    )
    DailyUsage.objects.create(
        tenant=tenant,
        day=first_day,
        messages_in=10 * scale,
        messages_out=12 * scale,
        ai_tokens=1000 * scale,
        estimated_cost=Decimal("1.10") * scale,
    )
    DailyUsage.objects.create(
        tenant=tenant,
        day=timezone.localdate(),
        messages_in=5 * scale,
        messages_out=6 * scale,
        ai_tokens=500 * scale,
        estimated_cost=Decimal("0.55") * scale,
    )
    cliente = ClienteFactory(tenant=tenant)
    bot = Chatbot.objects.create(tenant=tenant, name="Bot")
    conversation = Conversation.objects.create(tenant=tenant, chatbot=bot, cliente=cliente)
    _message(conversation, "in", start - timedelta(days=1))  # before the period
    _message(conversation, "out", start - timedelta(days=1), sent_after=600)
    t0 = start + timedelta(days=2)
    _message(conversation, "in", t0)
    _message(conversation, "out", t0, sent_after=4 * scale)
    _message(conversation, "in", t0 + timedelta(hours=1))
    _message(conversation, "out", t0 + timedelta(hours=1), sent_after=2 * scale)
    _message(conversation, "in", t0 + timedelta(hours=2))  # never answered: left out

    in_period = start + timedelta(days=3)
    _pedido(tenant, cliente, StatusPedido.CONFIRMADO, Decimal("50.00") * scale, in_period)
    _pedido(tenant, cliente, StatusPedido.ENTREGUE, Decimal("30.50") * scale, in_period)
    _pedido(tenant, cliente, StatusPedido.CANCELADO, Decimal("70.00"), in_period)
    _pedido(tenant, cliente, StatusPedido.RASCUNHO, Decimal("10.00"), None)
    _pedido(tenant, cliente, StatusPedido.ENTREGUE, Decimal("40.00"), start - timedelta(hours=1))
    _agendamentos(
        tenant,
        cliente,
        start,
        ["concluido"] * 3 * scale + ["nao_compareceu", "cancelado", "confirmado"],
    )


@pytest.fixture
def numbers(tenant, other_tenant, plan, period_start):
    _build(tenant, plan, period_start)
    _build(other_tenant, plan, period_start + timedelta(hours=1), scale=3)
    return tenant


def test_the_summary_matches_the_hand_built_numbers(numbers, key_client):
    response = key_client.get("/api/analytics/summary/")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("messages_in", "messages_out", "messages", "ai_tokens")} == {
        "messages_in": 15,
        "messages_out": 18,
        "messages": 33,
        "ai_tokens": 1500,
    }
    assert body["estimated_cost"] == "1.65"
    assert body["avg_response_seconds"] == 3.0  # (4 s + 2 s) / 2
    assert (body["orders"], body["orders_value"]) == (2, "80.50")
    assert body["appointments"] == 5  # 3 concluded, 1 no-show, 1 confirmed; canceled left out
    assert (body["appointments_attended"], body["appointments_no_show"]) == (3, 1)
    assert body["attendance_rate"] == 0.75
    assert (body["messages_limit"], body["plan"]) == (10, "Essencial")


def test_another_tenant_sees_only_its_own_numbers(numbers, other_tenant):
    _, key = api_key_create(tenant=other_tenant, name="deles")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    body = api.get("/api/analytics/summary/").json()
    history = api.get("/api/analytics/history/?period=month").json()["results"]

    assert (body["messages_in"], body["ai_tokens"]) == (45, 4500)
    assert body["avg_response_seconds"] == 9.0
    assert (body["orders"], body["orders_value"]) == (2, "241.50")
    assert (body["appointments_attended"], body["attendance_rate"]) == (9, 0.9)
    # The last 30 days: this period's 45 and the 1000 of the day before it, theirs only.
    assert sum(d["messages_in"] for d in history) == 1045


def test_a_staff_member_of_two_tenants_picks_one_with_x_tenant(numbers, other_tenant):
    user = MembershipFactory(tenant=numbers).user
    MembershipFactory(tenant=other_tenant, user=user)
    api = APIClient()
    api.force_authenticate(user)

    assert api.get("/api/analytics/summary/").status_code == 403  # which one?
    mine = api.get("/api/analytics/summary/", HTTP_X_TENANT="padaria").json()
    assert mine["messages_in"] == 15


def test_the_history_has_one_row_per_day(numbers, key_client, period_start):
    month = key_client.get("/api/analytics/history/?period=month").json()
    week = key_client.get("/api/analytics/history/?period=week").json()

    assert len(month["results"]) == 30 and len(week["results"]) == 7
    by_day = {d["date"]: d for d in month["results"]}
    first = by_day[timezone.localdate(period_start).isoformat()]
    assert (first["messages_in"], first["messages_out"], first["ai_tokens"]) == (10, 12, 1000)
    today = week["results"][-1]
    assert today["date"] == timezone.localdate().isoformat()
    assert (today["messages_in"], today["estimated_cost"]) == (5, "0.55")
    orders_day = by_day[timezone.localdate(period_start + timedelta(days=3)).isoformat()]
    assert (orders_day["orders"], orders_day["orders_value"]) == (2, "80.50")
    replies_day = by_day[timezone.localdate(period_start + timedelta(days=2)).isoformat()]
    assert replies_day["avg_response_seconds"] == 3.0
    assert sum(d["appointments"] for d in month["results"]) == 5
    assert key_client.get("/api/analytics/history/?period=year").status_code == 400


def test_the_history_exports_as_csv(numbers, key_client):
    for url in ("/api/analytics/history/?period=week&format=csv", "/api/analytics/history.csv"):
        response = key_client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert rows[-1]["date"] == timezone.localdate().isoformat()
        assert rows[-1]["messages_in"] == "5"
    assert len(rows) == 30


def test_the_admin_dashboard_draws_its_charts_without_internet(client, numbers, other_tenant):
    owner = MembershipFactory(tenant=numbers).user
    client.force_login(owner)

    response = client.get(f"/admin/billing/tenant/{numbers.pk}/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 5
    assert "33" in html  # messages this period
    assert "cdn" not in html.lower()
    assert 'src="http' not in html and '<script src="//' not in html
    exported = client.get(f"/admin/billing/tenant/{numbers.pk}/dashboard/history.csv")
    assert len(list(csv.DictReader(io.StringIO(exported.content.decode())))) == 30
    theirs = client.get(f"/admin/billing/tenant/{other_tenant.pk}/dashboard/")
    assert theirs.status_code == 404
    theirs = client.get(f"/admin/billing/tenant/{other_tenant.pk}/dashboard/history.csv")
    assert theirs.status_code == 404
