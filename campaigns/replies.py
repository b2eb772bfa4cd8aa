"""What a customer's reply to a campaign does (Campaign.reply_step, Campaign.reply_queue).

The step is entered when the message is queued (campaigns.services), so the flow's own
handler takes the reply. The queue is applied here, when the reply is stored: the outbox
calls `messages_stored` for every stored message (chatbots.outbox.watch), before the
interceptors run, so a ticket opened now makes the handoff interceptor keep the bot quiet
and an attendant answers. Only the first reply after the campaign's message is routed
(CampaignRecipient.replied_at), so a customer's later messages follow the usual rules.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.utils import timezone

from campaigns.models import CampaignRecipient
from chatbots.models import Conversation, Message
from inbox import services as inbox_services

logger = logging.getLogger(__name__)


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    if not any(r.direction == Message.Direction.IN for r in rows):
        return
    now = timezone.now()
    recipient = (
        CampaignRecipient.objects.filter(
            message__conversation_id=conversation.pk,
            status=CampaignRecipient.Status.SENT,
            replied_at__isnull=True,
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
    queue = recipient.campaign.reply_queue
    if claimed and queue is not None:
        inbox_services.ticket_open(conversation, queue)
        logger.info(
            "campaign reply routed to a queue",
            extra={"campaign_id": recipient.campaign_id, "queue_id": queue.pk},
        )
