"""Drive a typed message through the real pipeline (storage, engine, outbox, provider).

Used by `manage.py simulate` and handy in tests. Replies of a bot on the stub provider are
"sent" (recorded); for a bot on a real provider they are only sent with deliver=True, and
otherwise marked failed with code `simulation` so no real customer ever receives them.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from chatbots import engine
from chatbots.models import Chatbot, InboundEvent, Message
from chatbots.outbox import sending
from chatbots.wire import InboundMessage
from clientes.phones import normalize_phone


def simulate_message(
    *,
    chatbot: Chatbot,
    phone: str,
    text: str = "",
    reply_id: str = "",
    name: str = "",
    deliver: bool = False,
) -> list[Message]:
    return simulate_turn(
        chatbot=chatbot, phone=phone, text=text, reply_id=reply_id, name=name, deliver=deliver
    )[0]


def simulate_turn(
    *,
    chatbot: Chatbot,
    phone: str,
    text: str = "",
    reply_id: str = "",
    name: str = "",
    deliver: bool = False,
) -> tuple[list[Message], str]:
    """`simulate_message`, with who answered (engine.Turn.answered_by: an interceptor's or a
    handler's dotted path) for the staff app's simulator."""
    phone = normalize_phone(phone)
    message = InboundMessage(
        provider=engine.SIMULATOR,
        external_id=f"sim.{uuid.uuid4().hex}",
        bot_key=str(chatbot.pk),
        timestamp=timezone.now(),
        type="interactive" if reply_id else "text",
        from_phone=phone,
        profile_name=name,
        text=text,
        reply_id=reply_id,
    )
    InboundEvent.objects.create(
        tenant_id=chatbot.tenant_id,
        provider=engine.SIMULATOR,
        chatbot=chatbot,
        external_id=message.external_id,
        kind=InboundEvent.Kind.MESSAGE,
        contact_key=phone,
        occurred_at=message.timestamp,
        payload=message.to_dict(),
    )
    turns = engine.drain_contact(chatbot_id=chatbot.pk, contact_key=phone)
    replies = [m for turn in turns for m in turn.replies]
    answered_by = next((t.answered_by for t in reversed(turns) if t.answered_by), "")
    if not replies:
        return [], answered_by
    conversation_id = replies[0].conversation_id
    if chatbot.provider == "stub" or deliver:
        sending.send_pending(conversation_id)
    else:
        with transaction.atomic():
            Message.objects.filter(
                pk__in=[m.pk for m in replies], status=Message.Status.QUEUED
            ).update(
                status=Message.Status.FAILED, error_code="simulation", failed_at=timezone.now()
            )
    return (
        list(Message.objects.filter(pk__in=[m.pk for m in replies]).order_by("pk")),
        answered_by,
    )
