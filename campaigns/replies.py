"""What a customer's reply to a campaign does (Campaign.reply_step, Campaign.reply_queue).

The step is entered when the message is queued (campaigns.services), so the flow's own
handler takes the reply. The queue is applied here, when the reply is stored: the outbox
calls `messages_stored` for every stored message (chatbots.outbox.watch), before the
interceptors run, so a ticket opened now makes the handoff interceptor keep the bot quiet
and an attendant answers. Only the first reply after the campaign's message is routed
(CampaignRecipient.replied_at), so a customer's later messages follow the usual rules.
Only conversations flagged at send time (a cache key, `replies_expect`) cost a query; in a
processor batch the flags of all its conversations are read in one cache round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignRecipient
from chatbots.models import Conversation, Message
from config import memo
from inbox import services as inbox_services

logger = logging.getLogger(__name__)

# A reply this long after the campaign's message is just a message again.
REPLY_WINDOW = timedelta(days=7)


def _key(conversation_id: int) -> str:
    return f"campaigns:reply-queue:{conversation_id}"


def replies_expect(conversation_ids: Iterable[int]) -> None:
    """After the batch commits, flag the conversations whose reply goes to a queue: the hook
    below then costs the bot-only path no query for every other conversation."""
    keys = {_key(pk): 1 for pk in conversation_ids}
    if keys:
        timeout = int(REPLY_WINDOW.total_seconds())
        transaction.on_commit(lambda: cache.set_many(keys, timeout=timeout))


def _flagged(batch: frozenset[int]) -> set[int]:
    found = cache.get_many([_key(pk) for pk in batch])
    return {pk for pk in batch if found.get(_key(pk))}


def _expected(conversation_id: int) -> bool:
    """Whether the conversation's reply may go to a campaign's queue (`replies_expect`)."""
    batch = memo.get(memo.BATCH_CONVERSATIONS) or frozenset()
    if conversation_id in batch:
        return conversation_id in memo.cached(("campaigns:replies", batch), lambda: _flagged(batch))
    return bool(cache.get(_key(conversation_id)))


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    if not any(r.direction == Message.Direction.IN for r in rows):
        return
    if not _expected(conversation.pk):
        return
    now = timezone.now()
    recipient = (
        CampaignRecipient.objects.filter(
            message__conversation_id=conversation.pk,
            status=CampaignRecipient.Status.SENT,
            replied_at__isnull=True,
            sent_at__gte=now - REPLY_WINDOW,
            campaign__reply_queue__isnull=False,
        )
        .select_related("campaign__reply_queue")
        .order_by("-sent_at")
        .first()
    )
    if recipient is None:
        return
    claimed = CampaignRecipient.objects.filter(pk=recipient.pk, replied_at__isnull=True).update(
        replied_at=now
    )
    cache.delete(_key(conversation.pk))
    queue = recipient.campaign.reply_queue
    if claimed and queue is not None:
        inbox_services.ticket_open(conversation, queue)
        logger.info(
            "campaign reply routed to a queue",
            extra={"campaign_id": recipient.campaign_id, "queue_id": queue.pk},
        )
