"""The reply path's backlog, read from the tables that are its durable queues.

Pending inbound events (stored by a webhook, not yet processed) and outbound messages
queued or being sent: how many and how old the oldest is. Beside them, the failed ones that
wait for a person: inbound events the processor gave up on (they wait for "Processar
novamente" in the admin or `manage.py replay_inbound`) and replies that failed in the last
FAILED_WINDOW ("Reenviar mensagens com falha"; the owner's simulator's own are left out).
Each is counted through the partial index that covers exactly those rows
(`inbound_unprocessed_idx`, `message_outbox_idx`, `inbound_failed_idx`,
`message_failed_idx`), and a count stops at COUNT_CAP, so a scrape stays cheap even when a
stopped consumer has let the queue grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Min
from django.utils import timezone

from chatbots.models import InboundEvent, Message

COUNT_CAP = 100_000
# A reply that failed a day ago is history, not work: the alert and the panel show what a
# person can still act on today.
FAILED_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Backlog:
    name: str  # inbound_pending | inbound_failed | outbound_queued | outbound_sending | outbound_failed
    count: int
    oldest_seconds: float


def _one(name: str, queryset, date_field: str) -> Backlog:
    count = queryset.values("pk")[:COUNT_CAP].count()
    oldest = queryset.aggregate(oldest=Min(date_field))["oldest"] if count else None
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return Backlog(name=name, count=count, oldest_seconds=max(age, 0.0))


def backlog_read() -> list[Backlog]:
    unprocessed = (InboundEvent.State.PENDING, InboundEvent.State.PROCESSING)
    failed_since = timezone.now() - FAILED_WINDOW
    return [
        _one(
            "inbound_pending",
            InboundEvent.objects.filter(state__in=unprocessed),
            "received_at",
        ),
        _one(
            "inbound_failed",
            InboundEvent.objects.filter(state=InboundEvent.State.FAILED),
            "received_at",
        ),
        _one(
            "outbound_queued",
            Message.objects.filter(status=Message.Status.QUEUED),
            "created_at",
        ),
        _one(
            "outbound_sending",
            Message.objects.filter(status=Message.Status.SENDING),
            "created_at",
        ),
        _one(
            "outbound_failed",
            Message.objects.filter(
                status=Message.Status.FAILED,
                direction=Message.Direction.OUT,
                failed_at__gte=failed_since,
            ).exclude(error_code="simulation"),  # chatbots.health.SIMULATION: nothing was sent
            "failed_at",
        ),
    ]
