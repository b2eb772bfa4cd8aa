"""What the inbox publishes live (inbox.live), and the outbox watchers that feed it.

Kinds and their data (a contract with the staff app's consumer):

* `message`: conversation, message (id), direction in|out, sender customer|bot|staff|phone,
  author (user id for staff), text (a preview), type, queue, ticket, created_at;
* `status`: message, conversation, status (sent|delivered|read|failed), error;
* `ticket`: conversation, ticket, status, queue, assigned_to, waiting_since, unread;
* `note`: conversation, note, author, text, created_at;
* `presence` (inbox.services.presence_set): user, status.

Only conversations with an open ticket (Conversation.status waiting or human, which the
inbox keeps in step with it) are published, so the bot-only path pays one comparison of a
field it already has in memory; the watchers are registered with the outbox at start-up
(inbox.apps) and called explicitly by the code that stores messages, never by signals.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db.models import F
from django.utils import timezone

from chatbots.models import Conversation, Message
from config import memo
from inbox import live
from inbox.models import Note, Ticket

logger = logging.getLogger(__name__)

PREVIEW_CHARS = 200  # a list row shows a line; the page loads the whole message
LIVE_STATUSES = (Conversation.Status.WAITING, Conversation.Status.HUMAN)

_staff_sender: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "inbox_staff_sender", default=None
)


@contextmanager
def sent_by_staff(user_id: int) -> Iterator[None]:
    """Messages queued inside this block were written by that staff member."""
    token = _staff_sender.set(user_id)
    try:
        yield
    finally:
        _staff_sender.reset(token)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_data(ticket: Ticket) -> dict:
    return {
        "conversation": ticket.conversation_id,
        "ticket": ticket.pk,
        "status": str(ticket.status),
        "queue": ticket.queue_id,
        "assigned_to": ticket.assigned_to_id,
        "waiting_since": _iso(ticket.opened_at),
        "unread": ticket.unread,
    }


def ticket_changed(ticket: Ticket, *, previous_queue_id: int | None = None) -> None:
    """A ticket opened, was taken, assigned, transferred or ended."""
    memo.forget(_BATCH_TICKETS)
    data = ticket_data(ticket)
    users = [ticket.assigned_to_id] if ticket.assigned_to_id else []
    live.publish(
        ticket.tenant_id,
        live.TICKET,
        data,
        queue_id=ticket.queue_id,
        user_ids=users,
        conversation_id=ticket.conversation_id,
    )
    if previous_queue_id and previous_queue_id != ticket.queue_id:
        live.publish(ticket.tenant_id, live.TICKET, data, queue_id=previous_queue_id)


# Code above the inbox that wants to know when a conversation is handed to a person and when
# that ends (the event webhooks, integrations.hooks), registered from its AppConfig.ready.
_ticket_hooks: list = []


def ticket_hook_register(hook) -> None:
    """Call `hook(kind="opened"|"ended", ticket=...)` when a ticket opens (a handoff) or
    ends (closed, back to the bot, timed out), inside the change's transaction."""
    if hook not in _ticket_hooks:
        _ticket_hooks.append(hook)


def ticket_lifecycle(kind: str, ticket: Ticket) -> None:
    for hook in _ticket_hooks:
        try:
            hook(kind=kind, ticket=ticket)
        except Exception:  # a hook's failure must never undo a handoff
            logger.exception("ticket hook failed", extra={"ticket": ticket.pk})


def note_added(note: Note) -> None:
    ticket = note.ticket
    live.publish(
        note.tenant_id,
        "note",
        {
            "conversation": note.conversation_id,
            "note": note.pk,
            "author": note.author_id,
            "text": note.text[:PREVIEW_CHARS],
            "created_at": _iso(note.created_at),
        },
        queue_id=ticket.queue_id if ticket else None,
        conversation_id=note.conversation_id,
    )


_BATCH_TICKETS = "inbox:batch-tickets"


def _open_tickets(conversation_ids) -> dict[int, Ticket]:
    rows = Ticket.objects.filter(
        conversation_id__in=conversation_ids, status__in=Ticket.OPEN_STATUSES
    ).only("pk", "tenant_id", "queue_id", "assigned_to_id", "conversation_id")
    return {ticket.conversation_id: ticket for ticket in rows}  # one open ticket each


def _open_ticket(conversation_id: int) -> Ticket | None:
    """The conversation's open ticket. In a processor batch (config.memo), the open tickets
    of all its conversations are loaded by the first call, in one query; a ticket opened or
    changed meanwhile (ticket_changed) is looked up again."""
    batch = memo.get(memo.BATCH_CONVERSATIONS) or frozenset()
    if conversation_id in batch:
        tickets = memo.cached(_BATCH_TICKETS, lambda: _open_tickets(batch))
        if conversation_id in tickets:
            return tickets[conversation_id]
    return _open_tickets([conversation_id]).get(conversation_id)


def _sender(message: Message) -> str:
    if message.direction == Message.Direction.IN:
        return "customer"
    if (message.payload or {}).get("sent_from") == "phone":  # chatbots.echoes
        return "phone"
    return "staff" if _staff_sender.get() is not None else "bot"


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    """Outbox watcher: messages of `conversation` were stored (inbound or queued outbound).
    Never raises: a live event is not worth a failed turn."""
    if conversation.status not in LIVE_STATUSES or not rows:
        return
    try:
        _publish_messages(conversation, rows)
    except Exception:
        logger.exception("inbox live message event failed", extra={"conv": conversation.pk})


def _publish_messages(conversation: Conversation, rows: Sequence[Message]) -> None:
    ticket = _open_ticket(conversation.pk)
    if ticket is None:
        return
    inbound = [m for m in rows if m.direction == Message.Direction.IN]
    if inbound:  # unread for staff, and the ticket's own "customer last wrote"
        Ticket.objects.filter(pk=ticket.pk).update(
            unread=F("unread") + len(inbound),
            last_customer_message_at=conversation.last_customer_message_at or timezone.now(),
        )
    if any(m.pk is None for m in rows):  # bulk_create(ignore_conflicts) leaves ids unset
        ids = {m.provider_message_id for m in rows if m.provider_message_id}
        found = dict(
            Message.objects.filter(
                conversation=conversation, provider_message_id__in=ids
            ).values_list("provider_message_id", "pk")
        )
        for m in rows:
            if m.pk is None:
                m.pk = m.id = found.get(m.provider_message_id)
    author = _staff_sender.get()
    users = [ticket.assigned_to_id] if ticket.assigned_to_id else []
    for m in rows:
        sender = _sender(m)
        live.publish(
            conversation.tenant_id,
            live.MESSAGE,
            {
                "conversation": conversation.pk,
                "message": m.pk,
                "direction": str(m.direction),
                "sender": sender,
                "author": author if sender == "staff" else None,
                "type": m.type,
                "text": (m.text or "")[:PREVIEW_CHARS],
                "queue": ticket.queue_id,
                "ticket": ticket.pk,
                "created_at": _iso(m.created_at),
            },
            queue_id=ticket.queue_id,
            user_ids=users,
            conversation_id=conversation.pk,
        )


def status_changed(
    *,
    tenant_id: int,
    status: str,
    error: str = "",
    external_id: str = "",
    message_id: int | None = None,
    conversation: Conversation | None = None,
) -> None:
    """Outbox watcher: one of our messages moved to `status`. No query when the conversation
    at hand is with the bot; else one, and nothing published unless it is with a person."""
    if conversation is not None and conversation.status not in LIVE_STATUSES:
        return
    try:
        which = {"pk": message_id} if message_id else {"provider_message_id": external_id}
        row = (
            Message.objects.filter(
                tenant_id=tenant_id,
                direction=Message.Direction.OUT,
                conversation__status__in=LIVE_STATUSES,
                **which,
            )
            .values("pk", "conversation_id", "error_detail")
            .first()
        )
        if row is None:
            return
        ticket = _open_ticket(row["conversation_id"])
        live.publish(
            tenant_id,
            live.STATUS,
            {
                "message": row["pk"],
                "conversation": row["conversation_id"],
                "status": str(status),
                "error": error or row["error_detail"] or "",
            },
            queue_id=ticket.queue_id if ticket else None,
            conversation_id=row["conversation_id"],
        )
    except Exception:
        logger.exception("inbox live status event failed")
