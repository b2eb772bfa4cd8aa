"""Reads on bots, flows and conversations, shaped for lists (no N+1)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import DurationField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery

from billing.models import Tenant
from chatbots.models import Chatbot, Conversation, Message, Step


def chatbot_list(*, tenant: Tenant) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(tenant=tenant)


def chatbot_count(*, tenant_id: int) -> int:
    """The tenant's bots, the seats billing.quotas limits by Plan.max_chatbots."""
    return Chatbot.objects.filter(tenant_id=tenant_id).count()


def step_list(*, chatbot: Chatbot) -> QuerySet[Step]:
    return Step.objects.filter(chatbot=chatbot).order_by("order", "id")


def last_customer_text() -> Subquery:
    """The text of a conversation's newest inbound message, for annotating lists.

    One index probe per row on (conversation, id), walking back to the newest inbound.
    """
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.IN)
        .order_by("-id")
        .values("text")[:1]
    )


def conversation_list(*, tenant: Tenant | None) -> QuerySet[Conversation]:
    """A tenant's conversations with their bot and customer joined (None: every tenant)."""
    qs = Conversation.objects.select_related("chatbot", "cliente")
    return qs if tenant is None else qs.filter(tenant=tenant)


def message_response_times(*, tenant: Tenant, start: datetime, end: datetime) -> QuerySet[Message]:
    """Inbound messages of [start, end) annotated with `delay`: from their arrival to the
    sending of the first outbound message after them in the same conversation.

    One correlated subquery per inbound row, served by the (conversation, id) index;
    replies are created after the message they answer, so "after" is a larger id.
    """
    reply_sent = (
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            direction=Message.Direction.OUT,
            id__gt=OuterRef("id"),
            sent_at__gte=OuterRef("created_at"),
        )
        .order_by("id")
        .values("sent_at")[:1]
    )
    return (
        Message.objects.filter(
            tenant=tenant,
            direction=Message.Direction.IN,
            created_at__gte=start,
            created_at__lt=end,
        )
        .annotate(reply_at=Subquery(reply_sent))
        .annotate(
            delay=ExpressionWrapper(F("reply_at") - F("created_at"), output_field=DurationField())
        )
    )


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages, oldest first (the order the customer saw them)."""
    return Message.objects.filter(conversation=conversation).order_by("id")


def chatbot_flow_warnings(*, chatbot: Chatbot) -> list[str]:
    """What is wrong with a bot's flow as a whole (steps pointing at missing steps, ...)."""
    from chatbots.handlers.registry import validate_flow

    steps = step_list(chatbot=chatbot).filter(active=True)
    return validate_flow([(s.code, s.handler_path, s.config) for s in steps])
