"""Numbered answers to buttons and lists: the one rule for a bare number, on every provider.

The rule: when the bot's last message was reply buttons or a list and the customer answers
with a bare number ("9", "9.", "9)", "09", "9️⃣"), that number is the option shown at that
position, counting every row in the order sent, a list's "Ver mais" and "Voltar" rows
included; the message then carries that option's id (`reply_id`), exactly as a tap would.
A number past the last option is left to the step, which says it did not understand.

Why every provider: Whaticket and Evolution send buttons and lists as their numbered
preview ("1. Pizzas\n2. Bebidas", `Provider.degrade`), the terminal simulator prints the
stub's lists the same way, and WhatsApp's own lists show their rows in that same order. So
"9" is the ninth row everywhere, never 09:00: a time is typed with its hour mark, "9h",
"09:00" or "9:30" (chatbots.handlers.agenda.steps), and a number of units is asked for in a
text message, never under a list.

Anything else (words, "opção 2", a number when the last message was not buttons or a list)
is left for the handler's own matching (chatbots.text.match_option).
"""

from __future__ import annotations

import dataclasses
import re

from chatbots.models import Conversation, Message
from chatbots.text import normalize
from chatbots.wire import InboundMessage

# "2", "2.", "2)", "02", "2️⃣" (normalize() turns the keycap into "2").
_NUMBER = re.compile(r"^0*(\d{1,2})\s*[.)]?$")


@dataclasses.dataclass(frozen=True)
class Menu:
    """The options of the bot's last message, in the order shown: (id, title) each."""

    kind: str  # "buttons" or "list"
    options: list[tuple[str, str]]


def _options(kind: str, payload: dict) -> list[tuple[str, str]]:
    if kind == "buttons":
        items = payload.get("buttons") or []
    else:
        items = [r for s in payload.get("sections") or [] for r in s.get("rows") or []]
    return [(str(i.get("id", "")), str(i.get("title", ""))) for i in items]


def last_menu(conversation: Conversation) -> Menu | None:
    """The buttons or list the bot sent last in `conversation`; None when its last message
    was something else (a text, a template) or there is none."""
    if conversation.pk is None:
        return None
    last = (
        Message.objects.filter(conversation=conversation, direction=Message.Direction.OUT)
        .exclude(status=Message.Status.FAILED)
        .order_by("-id")
        .values("type", "payload")
        .first()
    )
    if last is None or last["type"] not in ("buttons", "list"):
        return None
    return Menu(kind=last["type"], options=_options(last["type"], last["payload"] or {}))


def numbered_reply(*, conversation: Conversation, message: InboundMessage) -> InboundMessage:
    """`message` with `reply_id` set to the option its bare number names (the rule above);
    `message` unchanged otherwise."""
    if message.reply_id or message.type != "text":
        return message
    match = _NUMBER.match(normalize(message.text))
    if match is None:
        return message
    menu = last_menu(conversation)
    if menu is None:
        return message
    index = int(match.group(1))
    if not 1 <= index <= len(menu.options) or not menu.options[index - 1][0]:
        return message
    return dataclasses.replace(
        message,
        reply_id=menu.options[index - 1][0],
        data={**message.data, "numbered_answer": index},
    )
