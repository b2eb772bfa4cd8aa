"""The agenda entered from anywhere: a reschedule or a "book again" started by a button
that belongs to an appointment, whatever the step and the flow.

When the bot's own flow has the day, time and confirm steps, the conversation moves to
them. A bot whose flow has none (say, mid-order in the order flow) runs them "embedded":
the agenda step reached lives in the state (`agenda_embutida`), the appointment buttons
interceptor drives it, and when it is over the conversation goes back to the step it was
at (`agenda_volta`), which the engine enters again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chatbots.handlers.agenda.base import (
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    CHOOSE_TIME,
    CLEAN_STATE,
    CONFIRM,
    K_AWAITING_COMMENT,
    K_EMBEDDED,
    K_RETURN_TO,
    MAX_HOPS,
)
from chatbots.handlers.agenda.confirm import ConfirmarAgendamentoHandler
from chatbots.handlers.agenda.steps import (
    EscolherDiaHandler,
    EscolherHorarioHandler,
    EscolherServicoHandler,
)
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.models import Step

EMBEDDABLE: dict[str, type[Handler]] = {
    CHOOSE_SERVICE: EscolherServicoHandler,
    CHOOSE_DAY: EscolherDiaHandler,
    CHOOSE_TIME: EscolherHorarioHandler,
    CONFIRM: ConfirmarAgendamentoHandler,
}


def _flow_has_agenda(ctx: Context) -> bool:
    """Whether this bot's flow has the day, time and confirm steps of the agenda flow."""
    needed = {
        (CHOOSE_DAY, EscolherDiaHandler.path()),
        (CHOOSE_TIME, EscolherHorarioHandler.path()),
        (CONFIRM, ConfirmarAgendamentoHandler.path()),
    }
    present = set(
        Step.objects.filter(
            chatbot=ctx.chatbot, active=True, code__in=[code for code, _path in needed]
        ).values_list("code", "handler_path")
    )
    return needed <= present


def enter_agenda(ctx: Context, *, state: dict[str, Any], messages: list) -> Reply:
    """Move the conversation to the choose-day step, from wherever it is: the bot's own
    agenda step when its flow has one, else the embedded agenda steps."""
    state = {**CLEAN_STATE, K_AWAITING_COMMENT: ctx.state.get(K_AWAITING_COMMENT), **state}
    if _flow_has_agenda(ctx):
        return Reply(messages=messages, state=state, next_step=CHOOSE_DAY)
    state[K_RETURN_TO] = ctx.conversation.current_step or None
    return _run_embedded(ctx, Reply(messages=messages, state=state, next_step=CHOOSE_DAY), at=None)


def embedded_step(ctx: Context) -> Reply | None:
    """The customer's answer to the embedded agenda step the conversation is at; None when
    it is at none."""
    at = ctx.state.get(K_EMBEDDED)
    if at not in EMBEDDABLE:
        return None
    sub = replace(ctx, step=None)
    return _run_embedded(ctx, EMBEDDABLE[at]().handle(sub), at=at)


def _run_embedded(ctx: Context, reply: Reply, *, at: str | None) -> Reply:
    """Carry `reply` on the way the engine would (enter the next steps, chain "say and go
    on"), for agenda steps run inside a bot whose own flow has none. The step reached is
    kept in state[K_EMBEDDED]; when the agenda part ends, the conversation goes back to the
    step it was at (state[K_RETURN_TO]), which the engine enters again."""
    messages = list(reply.messages)
    state = {**ctx.state, **reply.state}
    next_code = reply.next_step
    for _hop in range(MAX_HOPS):
        if reply.end or reply.handoff or not next_code:
            break
        if next_code not in EMBEDDABLE:  # e.g. "Voltar" to the agenda menu: leave the agenda
            reply = Reply(end=True)
            break
        at = next_code
        sub = replace(ctx, step=None, message=None, state=dict(state))
        reply = EMBEDDABLE[at]().enter(sub)
        messages += reply.messages
        state.update(reply.state)
        next_code = reply.next_step if reply.next_step != at else None
    if reply.end or reply.handoff or at is None:
        return_to = state.get(K_RETURN_TO)
        if (
            return_to
            and not Step.objects.filter(chatbot=ctx.chatbot, code=return_to, active=True).exists()
        ):
            return_to = None
        return Reply(
            messages=messages,
            state={**CLEAN_STATE, K_AWAITING_COMMENT: state.get(K_AWAITING_COMMENT)},
            next_step=None if reply.handoff else return_to,
            handoff=reply.handoff,
        )
    return Reply(messages=messages, state={**state, K_EMBEDDED: at})
