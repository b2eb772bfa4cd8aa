"""A tenant's numbers: this period's summary and a series per day (selectors, read only).

Every query here filters by the tenant first; nothing reads another tenant's rows. Message
and token counts come from the metering rows (DailyUsage, plus counters not flushed yet
for today and yesterday), never from COUNT(*) over the message table. Response times come
from chatbots.selectors, orders from pedidos.selectors (confirmed in the period and not
canceled), the attendant inbox's times and counts from inbox.numbers. Appointments come from the agenda app when it is installed and migrated;
otherwise they are left out (None).

It reads every app for billing's dashboard page and API, so in the layer contract
(pyproject.toml) it sits with the edges that show it, not with billing's base modules.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing import metering, quotas, template_costs
from billing.models import DailyUsage, Tenant
from chatbots.selectors import message_response_times
from config import csv_safe
from inbox.numbers import attendance_numbers
from pedidos.selectors import pedido_confirmed_list

logger = logging.getLogger(__name__)

PERIOD_DAYS = {"week": 7, "month": 30}

# The history's columns, in order (CSV header and API keys).
HISTORY_FIELDS = [
    "date",
    "messages_in",
    "messages_out",
    "ai_tokens",
    "estimated_cost",
    "orders",
    "orders_value",
    "appointments",
    "avg_response_seconds",
]


# --- Pieces ------------------------------------------------------------------------------


def avg_response_seconds(*, tenant: Tenant, start: datetime, end: datetime) -> float | None:
    replies = message_response_times(tenant=tenant, start=start, end=end)
    value = replies.aggregate(avg=Avg("delay"))["avg"]
    return round(value.total_seconds(), 1) if value is not None else None


def orders_between(*, tenant: Tenant, start: datetime, end: datetime) -> dict:
    totals = (
        pedido_confirmed_list(tenant=tenant)
        .filter(confirmado_em__gte=start, confirmado_em__lt=end)
        .aggregate(count=Count("id"), value=Sum("total"))
    )
    return {"count": totals["count"], "value": totals["value"] or Decimal("0.00")}


def _agendamento_model():
    """agenda.models.Agendamento when the app is installed, else None."""
    if not apps.is_installed("agenda"):
        return None
    try:
        return apps.get_model("agenda", "Agendamento")
    except LookupError:
        return None


def _appointments_query(run):
    """Run an agenda query; None when its tables are not there yet (not migrated)."""
    model = _agendamento_model()
    if model is None:
        return None
    try:
        with transaction.atomic():  # savepoint: a missing table must not spoil the caller
            return run(model)
    except DatabaseError:
        logger.warning("agenda tables unavailable; appointments left out of analytics")
        return None


def appointments_between(*, tenant: Tenant, start: datetime, end: datetime) -> dict | None:
    """Appointments starting in [start, end) (not canceled or rescheduled) and attendance:
    concluded / (concluded + no-shows), None until one of them happened."""

    def run(model):
        status = model.Status
        return model.objects.filter(tenant=tenant, inicio__gte=start, inicio__lt=end).aggregate(
            total=Count("id", filter=~Q(status__in=[status.CANCELADO, status.REAGENDADO])),
            attended=Count("id", filter=Q(status=status.CONCLUIDO)),
            no_show=Count("id", filter=Q(status=status.NAO_COMPARECEU)),
        )

    counts = _appointments_query(run)
    if counts is None:
        return None
    outcome = counts["attended"] + counts["no_show"]
    counts["attendance_rate"] = round(counts["attended"] / outcome, 4) if outcome else None
    return counts


# --- Summary -----------------------------------------------------------------------------


def analytics_summary(*, tenant: Tenant, now: datetime | None = None) -> dict:
    """This period's numbers (the plan's monthly window; see billing.quotas.usage_period)."""
    now = now or timezone.now()
    state = quotas.quota_state(tenant=tenant, now=now)
    return {
        "plan": state.plan_name,
        "subscription_status": state.status,
        "blocked": state.block,
        "messages_limit": state.messages_limit,
        "ai_tokens_limit": state.ai_tokens_limit,
        **numbers_between(tenant=tenant, start=state.period_start, end=state.period_end, now=now),
    }


def numbers_between(
    *, tenant: Tenant, start: datetime, end: datetime, now: datetime | None = None
) -> dict:
    """The figures of [start, end), as the dashboard shows them: what happens over time
    (messages, tokens, costs, response times, attendance) counts up to `now` when the
    period is still going on; orders and appointments count over the whole period (an
    appointment booked for later in the period is one of the period's). The monthly report
    (integrations.report) reads the same function, so it shows the same numbers."""
    now = now or timezone.now()
    until = min(now, end)
    first_day = timezone.localdate(start)
    # `end` is exclusive: a period ending at midnight does not reach into that day.
    last_day = timezone.localdate(until if until < end else end - timedelta(microseconds=1))
    usage = metering.usage_between(tenant_id=tenant.pk, first_day=first_day, last_day=last_day)
    orders = orders_between(tenant=tenant, start=start, end=end)
    appointments = appointments_between(tenant=tenant, start=start, end=end) or {}
    templates = template_costs.costs_between(
        tenant_id=tenant.pk, first_day=first_day, last_day=last_day
    )
    templates_cost = sum((row["cost"] for row in templates), Decimal("0"))
    return {
        "period_start": start,
        "period_end": end,
        "messages_in": usage.messages_in,
        "messages_out": usage.messages_out,
        "messages": usage.messages,
        "ai_tokens": usage.ai_tokens,
        # Messages and tokens at the flat rates, plus Meta's price of each delivered template
        # by category and country (billing.template_costs).
        "estimated_cost": (usage.estimated_cost + templates_cost).quantize(Decimal("0.01")),
        "templates_cost": templates_cost.quantize(Decimal("0.01")),
        "templates_by_category": [
            {**row, "cost": row["cost"].quantize(Decimal("0.01"))} for row in templates
        ],
        "avg_response_seconds": avg_response_seconds(tenant=tenant, start=start, end=until),
        "orders": orders["count"],
        "orders_value": orders["value"],
        # None (not 0) when the agenda app is not available: "unknown", not "none".
        "appointments": appointments.get("total"),
        "appointments_attended": appointments.get("attended"),
        "appointments_no_show": appointments.get("no_show"),
        "attendance_rate": appointments.get("attendance_rate"),
        # People answering customers (the attendant inbox): times, per agent, per queue.
        "attendance": attendance_numbers(tenant_id=tenant.pk, start=start, end=until),
    }


# --- History -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    date: date
    messages_in: int = 0
    messages_out: int = 0
    ai_tokens: int = 0
    estimated_cost: Decimal = Decimal("0.00")
    orders: int = 0
    orders_value: Decimal = Decimal("0.00")
    appointments: int | None = None
    avg_response_seconds: float | None = None

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in HISTORY_FIELDS}


def _local_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return start, end


def analytics_history(*, tenant: Tenant, days: int = 30, today: date | None = None) -> list[Day]:
    """One row per local day, the last `days` days up to today, oldest first."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start, end = _local_bounds(first, today)
    tz = timezone.get_current_timezone()

    usage = {
        row["day"]: row
        for row in DailyUsage.objects.filter(tenant=tenant, day__gte=first, day__lte=today).values(
            "day", "messages_in", "messages_out", "ai_tokens", "estimated_cost"
        )
    }
    live_days = [d for d in (today - timedelta(days=1), today) if d >= first]
    for day, counts in metering.pending(tenant_id=tenant.pk, days=live_days).items():
        row = usage.setdefault(
            day,
            {"messages_in": 0, "messages_out": 0, "ai_tokens": 0, "estimated_cost": Decimal("0")},
        )
        for name, n in counts.items():
            row[name] += n
        row["estimated_cost"] += metering.cost_of(
            messages=counts.get("messages_in", 0) + counts.get("messages_out", 0),
            ai_tokens=counts.get("ai_tokens", 0),
        )

    for day, cost in template_costs.cost_by_day(
        tenant_id=tenant.pk, first_day=first, last_day=today
    ).items():
        row = usage.setdefault(
            day,
            {"messages_in": 0, "messages_out": 0, "ai_tokens": 0, "estimated_cost": Decimal("0")},
        )
        row["estimated_cost"] += cost

    orders = {
        row["day"]: row
        for row in pedido_confirmed_list(tenant=tenant)
        .filter(confirmado_em__gte=start, confirmado_em__lt=end)
        .annotate(day=TruncDate("confirmado_em", tzinfo=tz))
        .values("day")
        .annotate(count=Count("id"), value=Sum("total"))
        .order_by()
    }

    def run(model):
        status = model.Status
        return {
            row["day"]: row["count"]
            for row in model.objects.filter(tenant=tenant, inicio__gte=start, inicio__lt=end)
            .exclude(status__in=[status.CANCELADO, status.REAGENDADO])
            .annotate(day=TruncDate("inicio", tzinfo=tz))
            .values("day")
            .annotate(count=Count("id"))
            .order_by()
        }

    appointments = _appointments_query(run)

    delays = {
        row["day"]: row["avg"]
        for row in message_response_times(tenant=tenant, start=start, end=end)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(avg=Avg("delay"))
        .order_by()
    }

    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        u = usage.get(day, {})
        o = orders.get(day, {})
        delay = delays.get(day)
        series.append(
            Day(
                date=day,
                messages_in=u.get("messages_in", 0),
                messages_out=u.get("messages_out", 0),
                ai_tokens=u.get("ai_tokens", 0),
                estimated_cost=Decimal(u.get("estimated_cost", 0)).quantize(Decimal("0.01")),
                orders=o.get("count", 0),
                orders_value=o.get("value") or Decimal("0.00"),
                appointments=None if appointments is None else appointments.get(day, 0),
                avg_response_seconds=round(delay.total_seconds(), 1) if delay else None,
            )
        )
    return series


def history_csv(rows: list[dict]) -> str:
    """The history as CSV text: a header of HISTORY_FIELDS, comma-separated, dot decimals."""
    out = io.StringIO()
    writer = csv_safe.DictWriter(out, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
