"""Reads on bots, flows and conversations, shaped for lists (no N+1)."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from billing.models import Tenant
from chatbots.models import Chatbot, Conversation, Message, Step


def chatbot_list(*, tenant: Tenant) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(tenant=tenant)


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


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    """A conversation's messages, oldest first (the order the customer saw them)."""
    return Message.objects.filter(conversation=conversation).order_by("id")


def chatbot_flow_warnings(*, chatbot: Chatbot) -> list[str]:
    """What is wrong with a bot's flow as a whole (steps pointing at missing steps, ...)."""
    from chatbots.handlers.registry import validate_flow

    steps = step_list(chatbot=chatbot).filter(active=True)
    return validate_flow([(s.code, s.handler_path, s.config) for s in steps])
