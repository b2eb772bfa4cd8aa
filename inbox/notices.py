"""What the customer is told when handed to a person: their place in the queue, or, outside
the queue's hours, when it opens; and the queue's "long wait" message.

Texts are the queue's own (Queue.position_message, closed_message, timeout_message) or the
defaults in inbox.models; only the placeholders named there are filled, so a brace the
business typed is kept as typed.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots.outbox import Text
from inbox import hours, selectors
from inbox.models import (
    DEFAULT_CLOSED_MESSAGE,
    DEFAULT_POSITION_MESSAGE,
    DEFAULT_TIMEOUT_MESSAGE,
    Queue,
    Ticket,
)

TEXT_MAX = 4096  # WhatsApp's text body limit (chatbots.wire.TEXT_MAX)


def fill(template: str, **values: object) -> str:
    text = template
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text[:TEXT_MAX]


def handoff_notices(ticket: Ticket, *, now: datetime | None = None) -> list[Text]:
    """The messages for a customer whose ticket was just opened (none once someone has it)."""
    if ticket.status != Ticket.Status.WAITING:
        return []
    now = now or timezone.now()
    queue = ticket.queue
    schedule = hours.schedule_of(queue)
    if not hours.is_open(schedule, now):
        opening = hours.next_opening(schedule, now)
        opens_at = hours.opens_at_label(opening, now) if opening else _("em breve")
        text = fill(
            queue.closed_message or str(DEFAULT_CLOSED_MESSAGE), opens_at=opens_at, queue=queue.name
        )
        return [Text(body=text)]
    text = fill(
        queue.position_message or str(DEFAULT_POSITION_MESSAGE),
        position=selectors.queue_position(ticket),
        queue=queue.name,
    )
    return [Text(body=text)]


def timeout_notice(queue: Queue) -> Text:
    return Text(body=fill(queue.timeout_message or str(DEFAULT_TIMEOUT_MESSAGE), queue=queue.name))
