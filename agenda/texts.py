"""How the agenda reads to a customer in the chat: dates and times in pt-BR, and the reply
ids of the buttons that travel with an appointment.

The ids carry the appointment, not the conversation's step: a reminder's "Confirmar" tapped
hours later, in the middle of an order, still says which appointment it is about. The
chat side (chatbots.handlers.agenda) parses them with the patterns below.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda.availability import tenant_time_zone
from agenda.models import Agendamento

# date.weekday() order. Three letters fit a WhatsApp list row title (24 characters).
SHORT_DAYS = (
    gettext_lazy("Seg"),
    gettext_lazy("Ter"),
    gettext_lazy("Qua"),
    gettext_lazy("Qui"),
    gettext_lazy("Sex"),
    gettext_lazy("Sáb"),
    gettext_lazy("Dom"),
)

# --- Reply ids -------------------------------------------------------------------------

CONFIRMAR = "confirmar"
REAGENDAR = "reagendar"
CANCELAR = "cancelar"
REMARCAR = "remarcar"  # after a no-show: book again (the old appointment stays a no-show)
ACTIONS = (CONFIRMAR, REAGENDAR, CANCELAR, REMARCAR)
ACTION_BUTTON = re.compile(r"^ag:(?P<acao>confirmar|reagendar|cancelar|remarcar):(?P<id>\d{1,18})$")

# Satisfaction answers (score 1-5 of FeedbackEvent). Titles fit a reply button (20 chars).
SCORES = ((5, gettext_lazy("😀 Ótimo")), (3, gettext_lazy("🙂 Bom")), (1, gettext_lazy("😞 Ruim")))
SCORE_BUTTON = re.compile(r"^fb:(?P<nota>[1-5]):(?P<id>\d{1,18})$")


# A freed time offered from the waiting list (agenda.waitlist): "vg:<offer id>"; joining
# the list of a service when no time is free: "le:<service id>" (any day).
VAGA_BUTTON = re.compile(r"^vg:(?P<id>\d{1,18})$")
ESPERA_BUTTON = re.compile(r"^le:(?P<servico>\d{1,18})$")


def vaga_button_id(oferta_id: int) -> str:
    return f"vg:{oferta_id}"


def espera_button_id(servico_id: int) -> str:
    return f"le:{servico_id}"


def action_button_id(acao: str, agendamento_id: int) -> str:
    """ "ag:confirmar:42": a button that acts on appointment 42 from any step of any flow."""
    if acao not in ACTIONS:
        raise ValueError(f"unknown appointment action {acao!r}; use one of {ACTIONS}")
    return f"ag:{acao}:{agendamento_id}"


def score_button_id(nota: int, agendamento_id: int) -> str:
    return f"fb:{int(nota)}:{agendamento_id}"


# --- Dates and times -------------------------------------------------------------------


def short_day(dia: date) -> str:
    """ "Seg 25/11" """
    return f"{SHORT_DAYS[dia.weekday()]} {dia:%d/%m}"


def hora(momento: datetime) -> str:
    """ "09:30" """
    return f"{momento:%H:%M}"


def when_label(inicio: datetime, *, tenant, agora: datetime | None = None) -> str:
    """When an appointment is, the way one says it: "hoje às 09:30", "amanhã (Ter 05/03) às
    10:00", "Qui 07/03 às 14:00", in the tenant's time zone."""
    fuso = tenant_time_zone(tenant)
    local = inicio.astimezone(fuso)
    hoje = (agora or timezone.now()).astimezone(fuso).date()
    if local.date() == hoje:
        return _("hoje às %(hora)s") % {"hora": hora(local)}
    if local.date() == hoje + timedelta(days=1):
        return _("amanhã (%(dia)s) às %(hora)s") % {
            "dia": short_day(local.date()),
            "hora": hora(local),
        }
    return _("%(dia)s às %(hora)s") % {"dia": short_day(local.date()), "hora": hora(local)}


def appointment_summary(agendamento: Agendamento, *, agora: datetime | None = None) -> str:
    """ "*Corte de cabelo* amanhã (Ter 05/03) às 10:00" """
    momento = when_label(agendamento.inicio, tenant=agendamento.tenant, agora=agora)
    return f"*{agendamento.servico.nome}* {momento}"
