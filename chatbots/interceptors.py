"""Interceptors: rules that run on every customer message before the current step.

They run in the fixed order of INTERCEPTORS. Each returns a Reply (the message is handled:
the step's handler does not run) or None (carry on). Later issues add theirs at their
place in the chain: opt-out keywords first, then human handoff, global commands, plan
quota and rate limits (DESIGN.md, "How a message flows").
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from chatbots.handlers.base import Context, Reply
from chatbots.models import Conversation
from chatbots.text import normalize

Interceptor = Callable[[Context], Reply | None]

DEFAULT_RESTART_KEYWORDS = ("menu", "reiniciar", "inicio", "voltar ao inicio")


class Restart(Reply):
    """Marker reply: restart the flow at its first step (the engine enters it)."""


def human_handoff(ctx: Context) -> Reply | None:
    """While a person attends (or the customer waits for one), the bot stays quiet."""
    if ctx.conversation.status in (Conversation.Status.HUMAN, Conversation.Status.WAITING):
        return Reply()
    return None


def global_commands(ctx: Context) -> Reply | None:
    """ "menu" / "reiniciar" from anywhere restarts the flow at its first step."""
    keywords = ctx.chatbot.options.get("restart_keywords") or DEFAULT_RESTART_KEYWORDS
    if ctx.message is not None and ctx.message.type in ("text", "interactive", "button"):
        if normalize(ctx.text) in {normalize(k) for k in keywords}:
            return Restart(clear_state=True)
    return None


def unsupported_message(ctx: Context) -> Reply | None:
    """A message type WhatsApp itself could not deliver to us: say so, keep the step."""
    if ctx.message is not None and ctx.message.type in ("unsupported", "unknown"):
        return Reply(
            messages=[
                _text(_("Desculpe, não consigo ler esse tipo de mensagem. Pode escrever em texto?"))
            ]
        )
    return None


def _text(body: str):
    from chatbots.messages import Text

    return Text(body=body)


def catalog_order(ctx: Context) -> Reply | None:
    """A cart sent from the WhatsApp catalog becomes an order, whatever the step."""
    from chatbots.handlers.pedidos import catalog_order as handle_catalog_order

    return handle_catalog_order(ctx)


INTERCEPTORS: list[Interceptor] = [
    human_handoff,
    global_commands,
    unsupported_message,
    catalog_order,
]


def run(ctx: Context) -> Reply | None:
    for interceptor in INTERCEPTORS:
        reply = interceptor(ctx)
        if reply is not None:
            return reply
    return None
