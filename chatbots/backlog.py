"""The reply path's backlog, read from the tables that are its durable queues.

Pending inbound events (stored by a webhook, not yet processed) and outbound messages
queued or being sent: how many and how old the oldest is. Both are counted through the
partial indexes that cover exactly those rows (`inbound_unprocessed_idx`,
`message_outbox_idx`), and a count stops at COUNT_CAP, so a scrape stays cheap even when a
stopped consumer has let the queue grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from chatbots.models import InboundEvent, Message

COUNT_CAP = 100_000


@dataclass(frozen=True)
class Backlog:
    name: str  # inbound_pending | outbound_queued | outbound_sending
    count: int
    oldest_seconds: float


def _one(name: str, queryset, date_field: str) -> Backlog:
    count = queryset.values("pk")[:COUNT_CAP].count()
    oldest = queryset.aggregate(oldest=Min(date_field))["oldest"] if count else None
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return Backlog(name=name, count=count, oldest_seconds=max(age, 0.0))


def backlog_read() -> list[Backlog]:
    unprocessed = (InboundEvent.State.PENDING, InboundEvent.State.PROCESSING)
    return [
        _one(
            "inbound_pending",
            InboundEvent.objects.filter(state__in=unprocessed),
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
    ]
