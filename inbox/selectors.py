"""Reads of the attendant inbox: which conversations a staff member sees, by state.

Visibility: owners and admins see every conversation of the tenant. Agents see the
conversations with them and their queues' (a queue with no members is everybody's, so a
new tenant's default queue reaches its whole staff), and the ones with the bot; a
conversation whose open ticket sits in another queue, assigned to someone else or to
nobody, they do not. One they may not see answers like one that does not exist (404 in
the API), so its existence is not revealed.

Lists come with the open ticket (queue and assignee) prefetched: a fixed number of queries
whatever the page size.
"""

from __future__ import annotations

import re

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from billing.models import Membership
from chatbots.models import Conversation, Message
from inbox.models import Note, Queue, QuickReply, Ticket

MANAGERS = (Membership.Role.OWNER, Membership.Role.ADMIN)
STATES = ("waiting", "mine", "queues", "all", "closed")
OPEN = Ticket.OPEN_STATUSES
# A search typed as a phone number: digits with the usual separators, "(11) 98765-4321".
PHONE_TYPED = re.compile(r"^\+?[\d\s().-]+$")


def is_manager(membership: Membership) -> bool:
    return membership.role in MANAGERS


def _open_tickets(**filters) -> QuerySet[Ticket]:
    return Ticket.objects.filter(conversation=OuterRef("pk"), status__in=OPEN, **filters)


def my_queue_ids(membership: Membership):
    """The queues an agent works: theirs, and those nobody was put in (a subquery)."""
    return (
        Queue.objects.filter(tenant_id=membership.tenant_id)
        .filter(Q(members=membership.user_id) | Q(members__isnull=True))
        .values("pk")
    )


def _visible(membership: Membership, conversations: QuerySet[Conversation]):
    if is_manager(membership):
        return conversations
    elsewhere = (
        _open_tickets()
        .exclude(queue_id__in=my_queue_ids(membership))
        .exclude(assigned_to_id=membership.user_id)
    )
    return conversations.filter(~Exists(elsewhere))


def with_open_ticket(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Each conversation's open ticket (if any) as `.open_tickets` (a list of 0 or 1)."""
    return conversations.prefetch_related(
        Prefetch(
            "tickets",
            queryset=Ticket.objects.filter(status__in=OPEN).select_related("queue", "assigned_to"),
            to_attr="open_tickets",
        )
    )


def visible_conversations(membership: Membership) -> QuerySet[Conversation]:
    base = Conversation.objects.filter(tenant_id=membership.tenant_id)
    return _visible(membership, base)


def conversations_for(
    membership: Membership,
    state: str = "all",
    queue: int | None = None,
    assigned: int | None = None,
    search: str = "",
) -> QuerySet[Conversation]:
    """The conversations `membership` sees in `state`:

    * waiting: a ticket waits for someone, the oldest wait first;
    * mine: the open tickets assigned to them;
    * queues: the open tickets of their queues (agents) or of every queue (managers);
    * all: every conversation they may see, most recently active first;
    * closed: the last ticket ended and none is open, the latest close first.

    `queue` and `assigned` (user ids) narrow to the open ticket's queue or assignee;
    `search` matches the customer's name, phone or a message's text.
    """
    if state not in STATES:
        raise ValueError(f"unknown inbox state {state!r}: one of {', '.join(STATES)}")
    conversations = visible_conversations(membership).select_related("chatbot", "cliente")
    user_id = membership.user_id
    if state == "waiting":
        conversations = (
            conversations.filter(Exists(_open_tickets(status=Ticket.Status.WAITING)))
            .annotate(waiting_since=_first_open_field("opened_at"))
            .order_by("waiting_since", "pk")
        )
    elif state == "mine":
        conversations = conversations.filter(Exists(_open_tickets(assigned_to_id=user_id)))
    elif state == "queues":
        if is_manager(membership):
            conversations = conversations.filter(Exists(_open_tickets()))
        else:
            conversations = conversations.filter(
                Exists(_open_tickets(queue_id__in=my_queue_ids(membership)))
            )
    elif state == "closed":
        conversations = conversations.filter(
            Exists(Ticket.objects.filter(conversation=OuterRef("pk"), status=Ticket.Status.CLOSED))
        ).exclude(Exists(_open_tickets()))
    if queue is not None:
        conversations = conversations.filter(Exists(_open_tickets(queue_id=queue)))
    if assigned is not None:
        conversations = conversations.filter(Exists(_open_tickets(assigned_to_id=assigned)))
    if search.strip():
        term = search.strip()
        in_text = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=term)
        matches = Q(cliente__nome__icontains=term) | Q(cliente__telefone__icontains=term)
        digits = re.sub(r"\D", "", term)
        if PHONE_TYPED.match(term) and len(digits) >= 4:
            # Phones are stored as digits only (clientes.phones), so match what was typed
            # without its punctuation and spaces.
            matches |= Q(cliente__telefone__contains=digits)
        conversations = conversations.filter(matches | Exists(in_text))
    if state not in ("waiting",):
        conversations = conversations.order_by(F("updated_at").desc(), "-pk")
    return with_open_ticket(conversations)


def _first_open_field(name: str):
    return Subquery(_open_tickets().order_by("opened_at").values(name)[:1])


def membership_can_see(membership: Membership, conversation: Conversation) -> bool:
    """Whether `membership` may see (and work) `conversation`."""
    if conversation.tenant_id != membership.tenant_id:
        return False
    if is_manager(membership):
        return True
    return visible_conversations(membership).filter(pk=conversation.pk).exists()


def queues_for(membership: Membership) -> QuerySet[Queue]:
    """The tenant's queues (every member reads them: transfers name any queue)."""
    return Queue.objects.filter(tenant_id=membership.tenant_id).prefetch_related("members")


def quick_replies_for(membership: Membership, queue: int | None = None) -> QuerySet[QuickReply]:
    replies = QuickReply.objects.filter(tenant_id=membership.tenant_id)
    if queue is not None:
        replies = replies.filter(Q(queue_id=queue) | Q(queue__isnull=True))
    return replies.order_by("shortcut", "pk")


def notes_of(conversation: Conversation) -> QuerySet[Note]:
    return Note.objects.filter(conversation=conversation).select_related("author").order_by("id")


def queue_position(ticket: Ticket) -> int:
    """1 for the ticket waiting longest in its queue."""
    return (
        Ticket.objects.filter(
            queue_id=ticket.queue_id,
            status=Ticket.Status.WAITING,
            assigned_to__isnull=True,
        )
        .filter(Q(opened_at__lt=ticket.opened_at) | Q(opened_at=ticket.opened_at, pk__lt=ticket.pk))
        .count()
        + 1
    )
