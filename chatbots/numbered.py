"""Numbered answers to buttons and lists that went out as numbered text.

Providers without interactive messages (Whaticket, Evolution) send buttons and lists as
their numbered preview ("1. Pizzas\n2. Bebidas", `Provider.degrade`). When the customer
answers with a bare number, this maps it to the id of the option shown under that number
in the bot's last message, exactly as a tap would have (`reply_id`). Handlers then see
the same answer on every provider, including options a handler would not number itself
(a "Ver mais" or "Voltar" row after the items).

Anything else (text, a number when the last message was not a degraded menu, a number out
of range) is left for the handler's own matching (chatbots.text.match_option).
"""

from __future__ import annotations

import dataclasses
import re

from chatbots.models import Conversation, Message
from chatbots.providers.registry import UnknownProvider, get_provider
from chatbots.text import normalize
from chatbots.wire import InboundMessage

# "2", "2.", "2)", "02", "2️⃣" (normalize() turns the keycap into "2").
_NUMBER = re.compile(r"^0*(\d{1,2})\s*[.)]?$")


def _options(kind: str, payload: dict) -> list[str]:
    if kind == "buttons":
        return [str(b.get("id", "")) for b in payload.get("buttons") or []]
    rows = [r for s in payload.get("sections") or [] for r in s.get("rows") or []]
    return [str(r.get("id", "")) for r in rows]


def numbered_reply(*, conversation: Conversation, message: InboundMessage) -> InboundMessage:
    """`message` with `reply_id` set to the option its number names, when it answers a
    degraded menu; `message` unchanged otherwise."""
    if message.reply_id or message.type != "text":
        return message
    match = _NUMBER.match(normalize(message.text))
    if match is None:
        return message
    try:
        native = get_provider(conversation.chatbot.provider).native_kinds
    except UnknownProvider:
        return message
    last = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT)
        .exclude(status=Message.Status.FAILED)
        .order_by("-id")
        .values("type", "payload")
        .first()
    )
    if last is None or last["type"] not in ("buttons", "list") or last["type"] in native:
        return message
    options = _options(last["type"], last["payload"] or {})
    index = int(match.group(1))
    if not 1 <= index <= len(options) or not options[index - 1]:
        return message
    return dataclasses.replace(
        message,
        reply_id=options[index - 1],
        data={**message.data, "numbered_answer": index},
    )
