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
    from chatbots.wire import Text

    return Text(body=body)


def catalog_order(ctx: Context) -> Reply | None:
    """A cart sent from the WhatsApp catalog becomes an order, whatever the step."""
    from chatbots.handlers.pedidos import catalog_order as handle_catalog_order

    return handle_catalog_order(ctx)


def appointment_buttons(ctx: Context) -> Reply | None:
    """Buttons that carry an appointment ("Confirmar", "Reagendar", "Cancelar" on a reminder,
    the satisfaction score after it) act on that appointment whatever the step: the tap
    belongs to the appointment, not to where the conversation is (agenda issue)."""
    from chatbots.handlers.agenda import interceptar

    return interceptar(ctx)


def optout_keywords(ctx: Context) -> Reply | None:
    """SAIR/PARAR/... opt out of proactive messages, VOLTAR opts back in; a tapped button
    and a typed "cancelar" during an order belong to the step (rule in compliance.interceptor)."""
    from compliance.interceptor import optout_keywords as handle_keywords

    return handle_keywords(ctx)


def billing_quota(ctx: Context) -> Reply | None:
    """Over the plan's monthly messages (or unpaid past the grace period) the bot says a short
    notice once a day per customer, then nothing; canceled: nothing (billing.quotas)."""
    from billing.gate import inbound_gate

    gate = inbound_gate(
        tenant=ctx.chatbot.tenant, cliente_id=ctx.cliente.pk, chatbot_options=ctx.chatbot.options
    )
    if not gate.blocked:
        return None
    return Reply(messages=[_text(gate.notice)] if gate.notice else [])


# A restart enters the flow's first step: the gates after it in the chain still apply.
billing_quota.gates_restart = True


def assistant_buttons(ctx: Context) -> Reply | None:
    """Taps on the assistant's buttons ("Fazer pedido", "Falar com atendente", "Ver menu")
    act whatever the step: they answer the assistant, not the step (chatbots.ai)."""
    from chatbots.ai.assistant import button_tap

    return button_tap(ctx)


def assistant_person_offer(ctx: Context) -> Reply | None:
    """On bots that use the assistant, asking for a person or a very negative message gets
    the "talk to a person?" buttons (chatbots.ai.intent)."""
    from chatbots.ai.assistant import person_interceptor

    return person_interceptor(ctx)


INTERCEPTORS: list[Interceptor] = [
    optout_keywords,
    human_handoff,
    global_commands,
    billing_quota,
    appointment_buttons,
    unsupported_message,
    catalog_order,
    assistant_buttons,
    assistant_person_offer,
]


def run(ctx: Context) -> Reply | None:
    for index, interceptor in enumerate(INTERCEPTORS):
        reply = interceptor(ctx)
        if isinstance(reply, Restart):
            for gate in INTERCEPTORS[index + 1 :]:
                if getattr(gate, "gates_restart", False) and (blocked := gate(ctx)) is not None:
                    return blocked
        if reply is not None:
            return reply
    return None
