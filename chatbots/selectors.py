"""Reads on bots, flows and conversations, shaped for lists (no N+1)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime

from django.conf import settings
from django.db.models import DurationField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Tenant
from chatbots.models import Chatbot, Conversation, Message, Step


def chatbot_list(*, tenant: Tenant) -> QuerySet[Chatbot]:
    return Chatbot.objects.filter(tenant=tenant)


def chatbot_count(*, tenant_id: int) -> int:
    """The tenant's bots, the seats billing.quotas limits by Plan.max_chatbots."""
    return Chatbot.objects.filter(tenant_id=tenant_id).count()


def step_list(*, chatbot: Chatbot) -> QuerySet[Step]:
    return Step.objects.filter(chatbot=chatbot).order_by("order", "id")


# A bot's active steps, per process, for settings.WEBHOOK_ROUTE_CACHE_SECONDS like the
# webhook routes (chatbots/routing.py): loading them was one query on every message, for
# rows that change when someone edits the flow. A write through chatbots.bots or the admin
# (a save or delete of a Step: the signals below) forgets this process's entry at once;
# other processes see the edit within the TTL.
_steps: dict[int, tuple[float, list[Step]]] = {}
_steps_lock = threading.Lock()


class StepSet(Mapping[str, Step]):
    """code -> Step, each step copied the first time it is read: a turn reads one or two of
    a flow's steps, and copying them all was most of the cost of loading them."""

    def __init__(self, rows: list[Step]) -> None:
        self._rows = {step.code: step for step in rows}
        self._copies: dict[str, Step] = {}

    def __getitem__(self, code: str) -> Step:
        copied = self._copies.get(code)
        if copied is None:
            copied = self._copies[code] = _own_copy(self._rows[code])
        return copied

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def first_code(self) -> str | None:
        """The code of the step a flow starts at (the lowest order, then the oldest)."""
        if not self._rows:
            return None
        return min(self._rows.values(), key=lambda s: (s.order, s.pk)).code


def active_steps(*, chatbot_id: int) -> StepSet:
    """code -> Step for the bot's active steps. Each call gets its own copies, so a handler
    that changes its step in memory changes nothing for the next message."""
    ttl = settings.WEBHOOK_ROUTE_CACHE_SECONDS
    now = time.monotonic()
    entry = _steps.get(chatbot_id)
    if entry is not None and entry[0] > now:
        rows = entry[1]
    else:
        rows = list(Step.objects.filter(chatbot_id=chatbot_id, active=True))
        if ttl > 0:
            with _steps_lock:
                _steps[chatbot_id] = (now + ttl, rows)
    return StepSet(rows)


def _own_copy(step: Step) -> Step:
    # A tenth of a deepcopy's cost: the row's values are immutable but its config, and the
    # model state caches related objects (step.chatbot) per instance.
    clone = copy.copy(step)
    clone._state = copy.copy(step._state)
    clone._state.fields_cache = {}
    clone.config = copy.deepcopy(step.config)
    return clone


def active_steps_forget(*, chatbot_id: int | None = None) -> None:
    """Forget one bot's cached steps (every bot's with no id)."""
    with _steps_lock:
        if chatbot_id is None:
            _steps.clear()
        else:
            _steps.pop(chatbot_id, None)


@receiver(post_save, sender=Step, dispatch_uid="chatbots.selectors.step_saved")
@receiver(post_delete, sender=Step, dispatch_uid="chatbots.selectors.step_deleted")
def _step_changed(instance: Step, **kwargs) -> None:
    active_steps_forget(chatbot_id=instance.chatbot_id)


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
