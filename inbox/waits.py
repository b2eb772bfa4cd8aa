"""Waiting too long: a ticket nobody took within its queue's `timeout_minutes` (counted
only while the queue is open) goes back to the bot, or the customer gets the queue's
"long wait" message once, as the queue says (Queue.timeout_action).

Run every minute by the beat task inbox.tasks.bulk_waiting_timeouts. Each ticket is
claimed with a conditional UPDATE, so two runs never act on it twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from chatbots.outbox import send_to_customer
from compliance import audit
from inbox import events, hours, notices
from inbox.models import Queue, Ticket
from inbox.services import conversation_back_to_bot

logger = logging.getLogger(__name__)

BATCH = 200  # tickets per queue per run; the next run takes the rest


def waiting_timeouts_run(*, now: datetime | None = None) -> int:
    """Act on every ticket that waited past its queue's limit; return how many."""
    now = now or timezone.now()
    acted = 0
    queues = Queue.objects.filter(timeout_minutes__gt=0).select_related("tenant")
    for queue in queues.prefetch_related("hours", "holidays"):
        limit = timedelta(minutes=queue.timeout_minutes)
        candidates = Ticket.objects.filter(
            queue=queue,
            status=Ticket.Status.WAITING,
            assigned_to__isnull=True,
            opened_at__lte=now - limit,  # wall time bounds the open time from above
        )
        if queue.timeout_action == Queue.TimeoutAction.MESSAGE:
            candidates = candidates.filter(timeout_notified_at__isnull=True)
        schedule = hours.schedule_of(queue)
        for ticket in candidates.select_related("conversation__chatbot", "conversation__cliente")[
            :BATCH
        ]:
            waited = hours.open_seconds_between(schedule, ticket.opened_at, now)
            if waited < limit.total_seconds():
                continue
            if _act(queue, ticket, now):
                acted += 1
    return acted


def _act(queue: Queue, ticket: Ticket, now: datetime) -> bool:
    conversation = ticket.conversation
    with transaction.atomic():
        if queue.timeout_action == Queue.TimeoutAction.BOT:
            claimed = Ticket.objects.filter(
                pk=ticket.pk, status=Ticket.Status.WAITING, assigned_to__isnull=True
            ).update(status=Ticket.Status.CLOSED, outcome=Ticket.Outcome.TIMEOUT, closed_at=now)
            if not claimed:
                return False
            conversation_back_to_bot(conversation)
            ticket.status, ticket.outcome, ticket.closed_at = (
                Ticket.Status.CLOSED,
                Ticket.Outcome.TIMEOUT,
                now,
            )
            action = "inbox.ticket_timeout_bot"
            message = notices.timeout_notice(queue) if queue.timeout_message else None
        else:
            claimed = Ticket.objects.filter(
                pk=ticket.pk, status=Ticket.Status.WAITING, timeout_notified_at__isnull=True
            ).update(timeout_notified_at=now)
            if not claimed:
                return False
            action = "inbox.ticket_timeout_message"
            message = notices.timeout_notice(queue)
        if message is not None:
            send_to_customer(
                chatbot=conversation.chatbot,
                cliente=conversation.cliente,
                message=message,
                reason="inbox_timeout",
            )
        audit.record(
            tenant=ticket.tenant_id,
            actor=audit.system_actor("inbox.timeouts"),
            action=action,
            obj=ticket,
            changes={"queue": queue.slug, "minutes": queue.timeout_minutes},
        )
        events.ticket_changed(ticket)
        if ticket.status == Ticket.Status.CLOSED:
            events.ticket_lifecycle("ended", ticket)
    return True
