"""Bursts: a customer's quick messages answered as one turn.

Customers type the way they talk: "oi" / "quero pizza" / "de calabresa", three messages in
two seconds. Answered one by one, the bot greets, then asks which pizza, then says it did
not understand "de calabresa", talking over the customer and over itself. So the engine
waits a short window after a customer's text and answers what arrived within it at once.

The window is the bot's `Chatbot.options["debounce_ms"]` (milliseconds, 0 turns it off),
else `settings.CHATBOT_DEBOUNCE_MS`, at most MAX_WINDOW. The rules:

* A burst starts at the contact's oldest pending message (the engine's order: provider
  timestamp, then arrival) and takes the pending texts after it, each received within the
  window of the one before, up to MAX_PARTS messages.
* Only typed text is joined. A tap on a button or list row, a location, media, the
  business's own message (an echo) and a command word (the opt-out and opt-in keywords,
  the restart words such as "menu") are each a turn of their own, answered at once: they
  are complete answers, and SAIR must never be lost inside a sentence. One of them arriving
  closes the burst before it. Reactions and other passive messages ride along unseen.
* A burst is answered when the customer has been quiet for the window (its newest message
  is a window old), as soon as something closes it, and at the latest MAX_WAIT_FACTOR
  windows after its first message, so a customer who keeps typing still gets an answer.
* The turn's message is the newest text with the texts joined by newlines (`text`), the
  single texts in `data["burst_texts"]`: interceptors and the step see everything that was
  said ("oi quero pizza de calabresa" has an order in it). A step that does not understand
  the joined text is given the newest text alone (a step expecting one answer, such as a
  quantity or a menu number, takes the customer's last word), and only if that fails too
  does the assistant get the joined text. Each message is still stored as its own Message.

Waiting costs no worker: the engine leaves the events pending and queues its task again
after the remaining wait (chatbots.inbound.enqueue_later); the sweeper catches a lost one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from chatbots.interceptors.consent import MAX_KEYWORD_CHARS
from chatbots.interceptors.core import DEFAULT_RESTART_KEYWORDS
from chatbots.models import Chatbot, InboundEvent
from chatbots.text import normalize
from chatbots.wire import InboundMessage
from compliance import consent

# More parts than this in one burst is not a burst but a paste or a bot: answer what came.
MAX_PARTS = 10
# A window longer than this would make every answer feel slow; options above it are capped.
MAX_WINDOW = timedelta(seconds=10)
# The longest a burst waits for its customer to stop typing, in windows.
MAX_WAIT_FACTOR = 4
# Message types that are recorded but never drive a flow: alone they are a silent turn, in a
# burst they ride along instead of closing it.
PASSIVE_TYPES = frozenset({"reaction", "system", "revoke", "edit", "ephemeral", "request_welcome"})
NO_WINDOW = timedelta(0)


@dataclass(frozen=True)
class Burst:
    """The events of one turn, oldest first, and how long to wait before answering them."""

    events: list[InboundEvent]
    messages: list[InboundMessage]
    wait: float = 0.0  # seconds; 0: answer now


def debounce_window(chatbot: Chatbot) -> timedelta:
    """The bot's burst window: options "debounce_ms", else CHATBOT_DEBOUNCE_MS; 0 is off."""
    options = chatbot.options if isinstance(chatbot.options, dict) else {}
    value = options.get("debounce_ms", settings.CHATBOT_DEBOUNCE_MS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return NO_WINDOW
    return min(timedelta(milliseconds=value), MAX_WINDOW)


def burst_take(events: list[InboundEvent], *, window: timedelta, now: datetime) -> Burst:
    """The burst at the head of a contact's pending `events` (oldest first, non-empty)."""
    head = events[0]
    first = InboundMessage.from_dict(head.payload)
    if window <= NO_WINDOW or not _joinable(first, head):
        return Burst(events=[head], messages=[first])
    taken, messages = [head], [first]
    closed = False
    for event in events[1:]:
        message = InboundMessage.from_dict(event.payload)
        gap = event.received_at - taken[-1].received_at
        if len(taken) >= MAX_PARTS or gap > window:
            closed = True
            break
        if message.type in PASSIVE_TYPES:
            taken.append(event)
            messages.append(message)
            continue
        if not _joinable(message, event):
            closed = True
            break
        taken.append(event)
        messages.append(message)
    closed = closed or len(taken) >= MAX_PARTS
    if closed:
        return Burst(events=taken, messages=messages)
    newest = max(e.received_at for e in taken)
    due = min(newest + window, head.received_at + window * MAX_WAIT_FACTOR)
    return Burst(events=taken, messages=messages, wait=max((due - now).total_seconds(), 0.0))


def turn_message(messages: list[InboundMessage]) -> InboundMessage:
    """The message the turn answers: the texts joined (see the module's rules)."""
    texts = [m for m in messages if m.type == "text"]
    if len(texts) <= 1:
        return texts[0] if texts else messages[0]
    newest = texts[-1]
    return dataclasses.replace(
        newest,
        text="\n".join(m.text for m in texts),
        data={**newest.data, "burst_texts": [m.text for m in texts]},
    )


def newest_text(messages: list[InboundMessage]) -> InboundMessage | None:
    """The newest text alone, when the turn joined several; None for a one-message turn."""
    texts = [m for m in messages if m.type == "text"]
    return texts[-1] if len(texts) > 1 else None


def _joinable(message: InboundMessage, event: InboundEvent) -> bool:
    if message.type != "text" or message.reply_id:  # taps, media, echoes: complete answers
        return False
    return not _is_command(message.text, event.chatbot)


def _is_command(text: str, chatbot: Chatbot) -> bool:
    """A word that is a whole answer by itself: opt-out/opt-in keywords, restart words."""
    key = consent.keyword_key(text)
    if not key or len(key) > MAX_KEYWORD_CHARS:
        return False
    # The tenant's consent settings come with the event's query (select_related).
    cfg = consent.consent_settings(tenant=chatbot.tenant)
    keywords = consent.optout_keywords(cfg) + consent.optin_keywords(cfg)
    if key in {consent.keyword_key(k) for k in keywords}:
        return True
    options = chatbot.options if isinstance(chatbot.options, dict) else {}
    restart = options.get("restart_keywords") or DEFAULT_RESTART_KEYWORDS
    return normalize(text) in {normalize(k) for k in restart}
