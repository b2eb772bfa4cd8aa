"""Services of the messaging core that other apps call.

`send_to_customer` is the one way a domain app (an order update in `pedidos`, a reminder in
`agenda`, a campaign) messages a customer: never a provider directly (DESIGN.md, "The
apps"). It goes through the same outbox as the bot's replies, so ordering, the rate
governor, retries and the 24-hour window apply the same way.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from chatbots import outbound
from chatbots.models import Chatbot, Conversation, Message
from chatbots.wire import Outbound, Template
from clientes.models import Cliente

logger = logging.getLogger(__name__)


def send_to_customer(
    *,
    chatbot: Chatbot,
    cliente: Cliente,
    message: Outbound,
    template: Template | None = None,
    reason: str = "",
    proactive: bool = False,
) -> Message:
    """Queue `message` to `cliente` through `chatbot` and return its outbound row.

    Inside the 24-hour customer-service window `message` is queued. Outside it (or when the
    customer never wrote) Meta accepts only approved templates (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows): then
    `template` is queued instead (it must be an approved MessageTemplate of this bot with
    the right number of parameters), or `message` itself if it is such a template.
    Otherwise nothing is sent: a `failed` row records why (`outside_24h_window`,
    `template_not_approved`, `template_params_mismatch`), for the admin and the metrics.

    `reason` says why the business writes (e.g. "order_update", "reminder"); it goes to
    the log line, so an operator can tell what produced a message.

    `proactive=True` marks a message the business sends on its own initiative (campaigns,
    reactivation, optional reminders): the consent ledger is asked first, and a customer
    who opted out (SAIR, Meta's marketing preference, erasure) gets nothing; a `failed`
    row records why (`opted_out`). Transactional updates (an order's status) keep the
    default False.
    """
    if cliente.tenant_id != chatbot.tenant_id:
        # Tenants never see each other's data: a bot never writes to another tenant's customer.
        raise ValueError(
            f"cliente {cliente.pk} belongs to tenant {cliente.tenant_id}, "
            f"chatbot {chatbot.pk} to tenant {chatbot.tenant_id}"
        )
    with transaction.atomic():
        conversation, _created = Conversation.objects.get_or_create(
            chatbot=chatbot, cliente=cliente, defaults={"tenant_id": chatbot.tenant_id}
        )
        conversation.chatbot, conversation.cliente = chatbot, cliente
        chosen: Outbound | None = message
        problem: tuple[str, str] | None = None
        if proactive:
            from compliance.consent import proactive_refusal

            problem = proactive_refusal(cliente=cliente)
        if problem is None and not outbound.window_open(conversation):
            chosen = message if isinstance(message, Template) else template
            if chosen is None:
                problem = (outbound.OUTSIDE_WINDOW, outbound.outside_window_detail(conversation))
        if problem is None and isinstance(chosen, Template):
            problem = outbound.template_problem(chatbot=chatbot, template=chosen)
        if problem is None:
            (row,) = outbound.queue_replies(conversation=conversation, messages=[chosen])
        else:
            row = _record_refused(conversation, chosen or message, *problem)
    logger.info(
        "message to customer",
        extra={
            "chatbot_id": chatbot.pk,
            "conversation_id": conversation.pk,
            "message_id": row.pk,
            "kind": row.type,
            "reason": reason,
            "outcome": row.status,
        },
    )
    return row


def _record_refused(
    conversation: Conversation, message: Outbound, code: str, detail: str
) -> Message:
    row = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        direction=Message.Direction.OUT,
        status=Message.Status.FAILED,
        type=message.kind,
        text=message.preview,
        payload=message.to_dict(),
        error_code=code,
        error_detail=detail,
        failed_at=timezone.now(),
    )
    outbound.FAILED.labels(code=code).inc()
    return row
