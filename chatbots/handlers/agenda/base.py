"""What every agenda step shares: step codes, conversation state keys, the base class and
the helpers more than one part of the flow uses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from django.utils import timezone
from django.utils.translation import gettext as _

from agenda import selectors as agenda_selectors
from agenda.availability import tenant_time_zone
from agenda.errors import AgendaErro, AgendaNaoConfigurada
from agenda.models import Agendamento, Servico
from chatbots.handlers import kit
from chatbots.handlers.base import Context, Reply

# The package's public module: saved steps name their handler by it (Step.handler_path).
PUBLIC_MODULE = "chatbots.handlers.agenda"

# Step codes of the agenda flow.
START = "inicio"
CHOOSE_SERVICE = "agenda_servico"
CHOOSE_DAY = "agenda_dia"
CHOOSE_TIME = "agenda_horario"
CONFIRM = "agenda_confirmar"
MY_APPOINTMENT = "agenda_meu_horario"

# Conversation state keys (prefixed: the state may be shared with another flow's keys).
K_SERVICE = "agenda_servico_id"
K_PAGE = "agenda_pagina"
K_DAYS = "agenda_dias"  # the days offered, ISO dates, so a typed "2" means what was shown
K_DAY = "agenda_dia"
K_TIMES = "agenda_horas"  # the free times of the chosen day, ISO datetimes
K_START = "agenda_inicio"
K_RESCHEDULING = "agenda_reagendar_id"  # set while moving an existing appointment
K_MINE = "agenda_meu_id"
K_EMBEDDED = "agenda_embutida"  # the agenda step run inside another flow (embedded.py)
K_RETURN_TO = "agenda_volta"  # the step to return to when the embedded run is over
K_AWAITING_COMMENT = "aguardando_comentario_feedback"  # appointment whose comment we await
# A day and a time the customer asked for in words ("amanhã às 14h", chatbots.handlers.agenda
# .intake), kept until the step that offers days or times says whether they are free.
K_WANTED_DAY = "agenda_dia_pedido"  # ISO date
K_WANTED_TIME = "agenda_hora_pedida"  # "HH:MM"

CLEAN_STATE: dict[str, Any] = {
    K_SERVICE: None,
    K_PAGE: 0,
    K_DAYS: None,
    K_DAY: None,
    K_TIMES: None,
    K_START: None,
    K_RESCHEDULING: None,
    K_MINE: None,
    K_EMBEDDED: None,
    K_RETURN_TO: None,
    K_WANTED_DAY: None,
    K_WANTED_TIME: None,
}

# What a customer types for "Ver mais" here: "outros" (other services, other times) too.
MORE_WORDS = (*kit.MORE_WORDS, "outros")
MAX_HOPS = 10  # same bound as the engine's steps entered in one turn

# The buttons of "inicio", also offered at "Meu horário" when nothing is booked.
BOOK = "agenda:agendar"
MINE = "agenda:meu"
LEAVE = "agenda:sair"


class AgendaStep(kit.FlowHandler):
    """Base of the agenda steps.

    Their path is `chatbots.handlers.agenda.<Class>` whichever module of this package
    defines them: that is the path saved steps, the starter flow and integrators' flows
    name, and the package re-exports every step class under it.
    """

    #: A typed "cancelar" at an agenda step is the step's own "Cancelar" (do not book,
    #: cancel this appointment), not an opt-out keyword (chatbots.interceptors.consent).
    owns_cancel: ClassVar[bool] = True

    @classmethod
    def path(cls) -> str:
        return f"{PUBLIC_MODULE}.{cls.__qualname__}"


def unavailable_text() -> str:
    return _(
        "Desculpe, não consegui acessar a agenda agora. 😕 Tente de novo em alguns minutos: "
        "suas escolhas estão guardadas."
    )


def customer_appointment(ctx: Context, pk: Any) -> Agendamento | None:
    """The appointment `pk` (from a reply id or the state) if it is this customer's, in
    this tenant; else None."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    return agenda_selectors.agendamento_get_of_cliente(
        tenant_id=ctx.chatbot.tenant_id, cliente_id=ctx.cliente.pk, pk=pk
    )


def book_or_leave(choice: str | None) -> Reply | None:
    """The "Agendar" and "Encerrar" buttons, offered at "inicio" and at "Meu horário"."""
    if choice == BOOK:
        return Reply(state=dict(CLEAN_STATE), next_step=CHOOSE_SERVICE)
    if choice == LEAVE:
        return Reply(messages=[kit.text(_("Até logo! 👋"))], end=True)
    return None


def not_configured_text() -> str:
    return _(
        "Desculpe, a agenda não está configurada, então ainda não consigo marcar horários "
        "por aqui. Por favor, fale com a gente por outro canal. 🙏"
    )


def agenda_error(exc: AgendaErro) -> Reply:
    """No source: say so and end. Cal.com unreachable: say so and stay (nothing lost)."""
    if isinstance(exc, AgendaNaoConfigurada):
        return Reply(messages=[kit.text(not_configured_text())], end=True)
    return Reply(messages=[kit.text(unavailable_text())])


def local_today(ctx: Context) -> date:
    return timezone.now().astimezone(tenant_time_zone(ctx.chatbot.tenant)).date()


def chosen_servico(ctx: Context) -> Servico | None:
    pk = ctx.state.get(K_SERVICE)
    if not pk:
        return None
    return agenda_selectors.servico_get_active(tenant_id=ctx.chatbot.tenant_id, pk=pk)


def rescheduling_of(ctx: Context) -> Agendamento | None:
    return customer_appointment(ctx, ctx.state.get(K_RESCHEDULING))


def moment_of(iso: str | None) -> datetime | None:
    """The aware datetime an ISO text (a tapped time row, the state) names; else None."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None
