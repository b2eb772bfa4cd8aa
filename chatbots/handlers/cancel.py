"""What a typed "cancelar" means: asked of the flows before it opts the customer out.

"cancelar" is also an opt-out keyword (compliance.consent), and a customer who types it
while ordering or booking means "cancel this", not "stop your messages". The consent
interceptor (chatbots.interceptors.consent) therefore asks, in this order:

1. the current step: a handler class with `owns_cancel = True` (chatbots.handlers.base)
   gets the word as its answer, like any other text;
2. the flows: each function registered here with `@register` gets the turn's Context and
   returns a Reply (the word cancelled something of that flow, e.g. the open order) or
   None (nothing of that flow to cancel). The first Reply wins, in registration order.

Only when neither takes it does "cancelar" opt out like SAIR. A flow registers when its
module is imported; every handler module is loaded before the flows are asked.
"""

from __future__ import annotations

from collections.abc import Callable

from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import HandlerNotFound, load_handler, load_modules

CancelMeaning = Callable[[Context], Reply | None]

_meanings: list[CancelMeaning] = []


def register(meaning: CancelMeaning) -> CancelMeaning:
    """Decorator: `meaning(ctx)` is asked what a typed "cancelar" cancels in its flow."""
    if meaning not in _meanings:  # a module imported twice registers once
        _meanings.append(meaning)
    return meaning


def step_owns_cancel(ctx: Context) -> bool:
    """Does the conversation's current step take a typed "cancelar" as its own answer?"""
    if ctx.step is None:
        return False
    try:
        return load_handler(ctx.step.handler_path).owns_cancel
    except HandlerNotFound:
        return False  # the engine refuses that step anyway (FlowError)


def cancel_reply(ctx: Context) -> Reply | None:
    """The first registered flow's Reply to a typed "cancelar", or None: nothing to cancel."""
    load_modules()
    for meaning in _meanings:
        reply = meaning(ctx)
        if reply is not None:
            return reply
    return None
