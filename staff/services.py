"""Writes of the staff app that the inbox does not offer."""

from __future__ import annotations

from inbox import events
from inbox.models import Ticket


def ticket_mark_seen(ticket: Ticket | None, user) -> bool:
    """The person a ticket is assigned to opened its conversation: nothing is unread for
    them any more (others peeking at it change nothing). True when the count changed; the
    lists are told then, so their badges follow."""
    if ticket is None or ticket.assigned_to_id != user.pk or not ticket.unread:
        return False
    changed = Ticket.objects.filter(pk=ticket.pk, assigned_to=user, unread__gt=0).update(unread=0)
    if changed:
        ticket.unread = 0
        events.ticket_changed(ticket)
    return bool(changed)
