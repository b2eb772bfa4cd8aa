"""What a clear intent typed at any step means: asked of the flows, like a typed "cancelar"
(chatbots.handlers.cancel).

The local rules (chatbots.ai.intent) name what a message asks for: an order ("quero
pedir"), an appointment ("quero marcar um corte amanhã"), changing or seeing one
("remarcar", "meu horário"), an order's status ("cadê meu pedido?"). The understanding
interceptor (chatbots.interceptors.understanding) then asks, for that rule:

1. the flows: each function registered here with `@register(rule, ...)` gets the turn's
   Context and the rule, and returns a Reply (the conversation moves into its flow, with what the
   customer said already filled in: the agenda's service and day, for example) or None
   (nothing for this bot: it has no such flow, or the customer is already where the
   message is handled). The first Reply wins, in registration order;
2. when none answers, the step that starts the rule's flow (chatbots.ai.options
   .flow_steps: the order flow's first step, the agenda's), unless the conversation is
   already inside that flow, whose steps then take the message themselves.

A flow registers when its module is imported; every handler module is loaded before the
flows are asked.
"""

from __future__ import annotations

from collections.abc import Callable

from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import load_modules

IntentMeaning = Callable[[Context, str], Reply | None]

_meanings: dict[str, list[IntentMeaning]] = {}


def register(*rules: str) -> Callable[[IntentMeaning], IntentMeaning]:
    """Decorator: `meaning(ctx, rule)` is asked what a message of these local rules means to its
    flow (rules: chatbots.ai.intent.FLOW_RULES)."""

    def decorate(meaning: IntentMeaning) -> IntentMeaning:
        for rule in rules:
            registered = _meanings.setdefault(rule, [])
            if meaning not in registered:  # a module imported twice registers once
                registered.append(meaning)
        return meaning

    return decorate


def flow_reply(ctx: Context, rule: str) -> Reply | None:
    """The first registered flow's Reply to a message of `rule`, or None: no flow took it."""
    load_modules()
    for meaning in _meanings.get(rule, []):
        reply = meaning(ctx, rule)
        if reply is not None:
            return reply
    return None
