"""Reaching a customer on the business's own initiative: which bot speaks, and the send.

Domain apps (an order update in `pedidos`, a reminder in `agenda`, reactivation in
`compliance`) go through here, never a provider directly: the message joins the same
outbox as the bot's replies, so ordering, the rate governor, retries and the 24-hour
window apply the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import gates
from chatbots.outbox.queue import queue_many, queue_replies
from chatbots.outbox.sending import FAILED
from chatbots.outbox.window import (
    OUTSIDE_WINDOW,
    Approved,
    customer_language,
    localized,
    no_template_reason,
    outside_window_detail,
    template_problem,
    window_open,
)
from chatbots.wire import Outbound, Template
from clientes.models import Cliente

logger = logging.getLogger(__name__)


def chatbot_for_customer(*, cliente: Cliente, preferred: Chatbot | None = None) -> Chatbot | None:
    """The bot that speaks to `cliente`, among the tenant's active bots:

    1. `preferred`, when given and active (the bot an order came through);
    2. else the bot the customer last wrote to (its 24-hour window is the one most likely
       open), then the one whose conversation moved last;
    3. else the tenant's first active bot (by id), for a customer who never wrote.

    None when the tenant has no active bot.
    """
    if preferred is not None and preferred.active:
        return preferred
    conversation = (
        Conversation.objects.filter(
            tenant_id=cliente.tenant_id, cliente=cliente, chatbot__active=True
        )
        .select_related("chatbot")
        .order_by(F("last_customer_message_at").desc(nulls_last=True), "-updated_at")
        .first()
    )
    if conversation is not None:
        return conversation.chatbot
    return Chatbot.objects.filter(tenant_id=cliente.tenant_id, active=True).order_by("id").first()


def conversations_gone_quiet(*, chatbot: Chatbot, since: datetime) -> QuerySet[Conversation]:
    """The bot's conversations whose customer last wrote before `since` and that no person
    is handling (nor waiting for), the longest silence first."""
    return (
        Conversation.objects.filter(chatbot=chatbot, last_customer_message_at__lt=since)
        .exclude(status__in=[Conversation.Status.HUMAN, Conversation.Status.WAITING])
        .order_by("last_customer_message_at", "pk")
    )


def send_to_customer(
    *,
    chatbot: Chatbot,
    cliente: Cliente,
    message: Outbound,
    template: Template | None = None,
    reason: str = "",
    proactive: bool = False,
    purpose: str = "",
) -> Message:
    """Queue `message` to `cliente` through `chatbot` and return its outbound row.

    Inside the 24-hour customer-service window `message` is queued. Outside it (or when the
    customer never wrote) Meta accepts only approved templates (chatbots.outbox.window):
    then `template` is queued instead (it must be an approved MessageTemplate of this bot
    with the right number of parameters), or `message` itself if it is such a template.
    Otherwise nothing is sent: a `failed` row records why (`outside_24h_window`,
    `template_not_approved`, `template_params_mismatch`), for the admin and the metrics.

    `reason` says why the business writes (e.g. "order_update", "reminder"); it goes to
    the log line, so an operator can tell what produced a message, and, when no template
    could go, the failed row says why none of that purpose was approved in the customer's
    language. A template is sent in the customer's language (Cliente.idioma) when the bot
    has it approved in that language too. `purpose` names the template's purpose when it
    is not `reason` itself.

    `proactive=True` marks a message the business sends on its own initiative (campaigns,
    reactivation, optional reminders). The QUEUE gates are asked first (chatbots.outbox.gates;
    compliance registers the consent ledger there): a customer who opted out (SAIR, Meta's
    marketing preference, erasure) gets nothing, and a `failed` row records why
    (`opted_out`). Transactional updates (an order's status) keep the default False.
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
        problem = gates.refusal(
            gates.QUEUE,
            gates.Outgoing(
                tenant_id=chatbot.tenant_id, chatbot=chatbot, cliente=cliente, proactive=proactive
            ),
        )
        if problem is None and not window_open(conversation):
            chosen = message if isinstance(message, Template) else template
            if chosen is None:
                problem = (
                    OUTSIDE_WINDOW,
                    _outside_window_why(conversation, purpose=purpose or reason),
                )
        if problem is None and isinstance(chosen, Template):
            chosen = localized(chatbot=chatbot, template=chosen, cliente=cliente)
            problem = template_problem(chatbot=chatbot, template=chosen)
        if problem is None:
            (row,) = queue_replies(conversation=conversation, messages=[chosen])
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


def send_to_customers(
    *,
    chatbot: Chatbot,
    messages: Sequence[tuple[Cliente, Outbound]],
    template: Template | None = None,
    reason: str = "",
    proactive: bool = False,
    purpose: str = "",
) -> list[Message]:
    """`send_to_customer` for many customers of one bot (a campaign's batch), in one
    transaction and a number of queries that does not grow with the customers: the same
    rules and the same rows (queued or `failed` with why), in `messages`' order."""
    for cliente, _message in messages:
        if cliente.tenant_id != chatbot.tenant_id:
            raise ValueError(
                f"cliente {cliente.pk} belongs to tenant {cliente.tenant_id}, "
                f"chatbot {chatbot.pk} to tenant {chatbot.tenant_id}"
            )
    if not messages:
        return []
    approved = Approved(chatbot)
    why_no_template: dict[str, str] = {}
    with transaction.atomic():
        conversations = _conversations_for(chatbot, [c for c, _m in messages])
        refused = gates.refusals(
            gates.QUEUE,
            [
                gates.Outgoing(
                    tenant_id=chatbot.tenant_id, chatbot=chatbot, cliente=c, proactive=proactive
                )
                for c, _m in messages
            ],
        )
        queued: list[tuple[int, Conversation, Outbound]] = []
        failed: list[tuple[int, Message]] = []
        for i, ((cliente, message), problem) in enumerate(zip(messages, refused, strict=True)):
            conversation = conversations[cliente.pk]
            conversation.chatbot, conversation.cliente = chatbot, cliente
            chosen: Outbound | None = message
            if problem is None and not window_open(conversation):
                chosen = message if isinstance(message, Template) else template
                if chosen is None:
                    language = customer_language(chatbot=chatbot, cliente=cliente)
                    if language not in why_no_template:
                        why_no_template[language] = (
                            no_template_reason(
                                chatbot=chatbot, purpose=purpose or reason, language=language
                            )
                            if purpose or reason
                            else ""
                        )
                    detail = outside_window_detail(conversation)
                    extra = why_no_template[language]
                    problem = (OUTSIDE_WINDOW, f"{detail} {extra}" if extra else detail)
            if problem is None and isinstance(chosen, Template):
                chosen = localized(
                    chatbot=chatbot, template=chosen, cliente=cliente, approved=approved
                )
                problem = template_problem(chatbot=chatbot, template=chosen, approved=approved)
            if problem is None:
                queued.append((i, conversation, chosen))
            else:
                failed.append((i, _refused_row(conversation, chosen or message, *problem)))
        rows: list[Message | None] = [None] * len(messages)
        for (i, _c, _m), row in zip(
            queued, queue_many([(c, m) for _i, c, m in queued]), strict=True
        ):
            rows[i] = row
        for (i, _row), row in zip(
            failed, Message.objects.bulk_create([r for _i, r in failed]), strict=True
        ):
            FAILED.labels(code=row.error_code).inc()
            rows[i] = row
    for row in rows:
        logger.info(
            "message to customer",
            extra={
                "chatbot_id": chatbot.pk,
                "conversation_id": row.conversation_id,
                "message_id": row.pk,
                "kind": row.type,
                "reason": reason,
                "outcome": row.status,
            },
        )
    return rows


def _conversations_for(chatbot: Chatbot, clientes: list[Cliente]) -> dict[int, Conversation]:
    """The bot's conversation with each customer, created where missing (by cliente id).
    Another process may create one at the same time: the unique (chatbot, cliente) keeps
    one, and the second read finds it."""
    ids = {c.pk for c in clientes}
    found = {
        c.cliente_id: c for c in Conversation.objects.filter(chatbot=chatbot, cliente_id__in=ids)
    }
    missing = ids - set(found)
    if missing:
        Conversation.objects.bulk_create(
            [
                Conversation(tenant_id=chatbot.tenant_id, chatbot=chatbot, cliente_id=pk)
                for pk in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        found.update(
            (c.cliente_id, c)
            for c in Conversation.objects.filter(chatbot=chatbot, cliente_id__in=missing)
        )
    return found


def _outside_window_why(conversation: Conversation, *, purpose: str) -> str:
    """The closed window, and, when the message had a purpose, why no template went."""
    detail = outside_window_detail(conversation)
    if not purpose:
        return detail
    language = customer_language(chatbot=conversation.chatbot, cliente=conversation.cliente)
    why = no_template_reason(chatbot=conversation.chatbot, purpose=purpose, language=language)
    return f"{detail} {why}"


def _record_refused(
    conversation: Conversation, message: Outbound, code: str, detail: str
) -> Message:
    row = _refused_row(conversation, message, code, detail)
    row.save(force_insert=True)
    FAILED.labels(code=code).inc()
    return row


def _refused_row(conversation: Conversation, message: Outbound, code: str, detail: str) -> Message:
    return Message(
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
