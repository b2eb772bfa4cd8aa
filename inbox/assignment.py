"""Automatic assignment: a queue's waiting tickets go round robin to its online agents.

For a queue with `auto_assign` on, each waiting ticket (oldest first) goes to the member who
is online for the tenant (AgentPresence, written by the staff app's socket), has fewer open
tickets than the queue's `max_per_agent` (0: no limit), and was given a ticket of this
queue the longest time ago (never first): that is the round robin, kept in the tickets
themselves, so it survives restarts and needs no counter. The queue row is locked while
it deals, so two workers never give one agent more than the limit.

Runs when a ticket is opened or put back in a queue, when an agent comes online, and when
an agent's ticket closes (a free slot).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from chatbots.models import Conversation
from compliance import audit
from inbox import events
from inbox.models import AgentPresence, Queue, Ticket


def next_agent(queue: Queue) -> int | None:
    """The user id the queue's next waiting ticket goes to, or None when nobody can take it."""
    members = (
        queue.members.filter(
            is_active=True,
            memberships__tenant_id=queue.tenant_id,
            inbox_presences__tenant_id=queue.tenant_id,
            inbox_presences__status=AgentPresence.Status.ONLINE,
        )
        .annotate(
            load=Count(
                "inbox_tickets",
                filter=Q(
                    inbox_tickets__tenant_id=queue.tenant_id,
                    inbox_tickets__status=Ticket.Status.OPEN,
                ),
                distinct=True,
            ),
            last=Max("inbox_tickets__assigned_at", filter=Q(inbox_tickets__queue=queue)),
        )
        # Never given one of this queue first, then the longest since their last one.
        .order_by(F("last").asc(nulls_first=True), "pk")
    )
    if queue.max_per_agent:
        members = members.filter(load__lt=queue.max_per_agent)
    return members.values_list("pk", flat=True).first()


def queue_dispatch(queue: Queue) -> list[Ticket]:
    """Give the queue's waiting tickets to its agents while someone can take one."""
    if not queue.auto_assign:
        return []
    given = []
    with transaction.atomic():
        queue = Queue.objects.select_for_update().get(pk=queue.pk)
        waiting = Ticket.objects.filter(
            queue=queue, status=Ticket.Status.WAITING, assigned_to__isnull=True
        ).order_by("opened_at", "pk")
        for ticket in waiting.select_related("conversation", "queue"):
            user_id = next_agent(queue)
            if user_id is None:
                break
            now = timezone.now()
            Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.WAITING).update(
                assigned_to_id=user_id, status=Ticket.Status.OPEN, assigned_at=now
            )
            ticket.assigned_to_id, ticket.status, ticket.assigned_at = (
                user_id,
                Ticket.Status.OPEN,
                now,
            )
            Conversation.objects.filter(pk=ticket.conversation_id).update(
                status=Conversation.Status.HUMAN, updated_at=now
            )
            audit.record(
                tenant=queue.tenant_id,
                actor=audit.system_actor("inbox.auto_assign"),
                action="inbox.ticket_assign",
                obj=ticket,
                changes={"assigned_to": [None, user_id], "queue": queue.slug},
            )
            events.ticket_changed(ticket)
            given.append(ticket)
    return given


def after_close(ticket: Ticket) -> None:
    """A closed ticket frees a slot of its agent: deal the queues they work in."""
    if ticket.assigned_to_id is None:
        return
    for queue in Queue.objects.filter(
        tenant_id=ticket.tenant_id, members=ticket.assigned_to_id, auto_assign=True
    ):
        queue_dispatch(queue)
