"""The attendant inbox's numbers for a period: first response time, resolution time and
conversations handled, in total, per agent and per queue (billing.analytics shows them in
the tenant's dashboard and the analytics API).

* handled: tickets a person answered for the first time in the period (first_response_at);
* first response: from the request for a person (ticket opened) to that first answer;
* resolution: from the request to the close by a person (outcome "closed"), for tickets
  closed in the period (returns to the bot and timeouts are not resolutions).

Three queries whatever the number of agents and queues.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q

from inbox.models import Ticket

FIRST = ExpressionWrapper(F("first_response_at") - F("opened_at"), output_field=DurationField())
RESOLUTION = ExpressionWrapper(F("closed_at") - F("opened_at"), output_field=DurationField())


def _seconds(value: timedelta | None) -> float | None:
    return round(value.total_seconds(), 1) if value is not None else None


def _measures(start: datetime, end: datetime) -> dict:
    answered = Q(first_response_at__gte=start, first_response_at__lt=end)
    resolved = Q(closed_at__gte=start, closed_at__lt=end, outcome=Ticket.Outcome.CLOSED)
    return {
        "handled": Count("pk", filter=answered),
        "first": Avg(FIRST, filter=answered),
        "resolved": Count("pk", filter=resolved),
        "resolution": Avg(RESOLUTION, filter=resolved),
    }


def _row(values: dict) -> dict:
    return {
        "handled": values["handled"],
        "resolved": values["resolved"],
        "avg_first_response_seconds": _seconds(values["first"]),
        "avg_resolution_seconds": _seconds(values["resolution"]),
    }


def attendance_numbers(*, tenant_id: int, start: datetime, end: datetime) -> dict:
    tickets = Ticket.objects.filter(tenant_id=tenant_id).filter(
        Q(first_response_at__gte=start, first_response_at__lt=end)
        | Q(closed_at__gte=start, closed_at__lt=end)
    )
    measures = _measures(start, end)
    total = tickets.aggregate(**measures)
    agents = (
        tickets.filter(assigned_to__isnull=False)
        .values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .annotate(**measures)
        .order_by("-handled", "assigned_to")
    )
    queues = (
        tickets.values("queue", "queue__name")
        .annotate(**measures)
        .order_by("-handled", "queue__name")
    )
    waiting = Ticket.objects.filter(tenant_id=tenant_id, status=Ticket.Status.WAITING).count()
    return {
        **_row(total),
        "waiting_now": waiting,
        "per_agent": [
            {
                "user": a["assigned_to"],
                "name": " ".join(
                    p for p in (a["assigned_to__first_name"], a["assigned_to__last_name"]) if p
                )
                or a["assigned_to__username"],
                **_row(a),
            }
            for a in agents
        ],
        "per_queue": [{"queue": q["queue"], "name": q["queue__name"], **_row(q)} for q in queues],
    }
