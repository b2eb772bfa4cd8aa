"""What the customer already said about an appointment, read from free text, and the agenda's
meaning of the intents typed anywhere (chatbots.handlers.intents).

"quero marcar um corte amanhã às 14h" names the service ("corte" -> "Corte de cabelo"), the
day ("hoje", "amanhã", "depois de amanhã", "sexta", "07/03", "dia 7") and the time ("14h",
"9:30", "às 9"). The booking starts with what was named filled in: a named service skips
the service list, and the day and time wanted wait in the state (`agenda_dia_pedido`,
`agenda_hora_pedida`) until the steps that offer them can say whether they are free
(chatbots.handlers.agenda.steps); a day or time that is not free is said so, with the free
ones offered.

"queria um corte amanhã" (the local rule "wants") books too, when it names a service.

"remarcar", "cancelar meu horário" and "meu horário" go to "Meu horário", which shows the
next appointment with its buttons.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.utils import timezone

from agenda import selectors as agenda_selectors
from agenda.availability import tenant_time_zone
from agenda.models import Servico
from chatbots.ai.intent import WANTS_RULE
from chatbots.handlers import intents
from chatbots.handlers.agenda.base import (
    CHOOSE_DAY,
    CHOOSE_SERVICE,
    CHOOSE_TIME,
    CLEAN_STATE,
    CONFIRM,
    K_AWAITING_COMMENT,
    K_RESCHEDULING,
    K_SERVICE,
    K_WANTED_DAY,
    K_WANTED_TIME,
    MY_APPOINTMENT,
    PUBLIC_MODULE,
)
from chatbots.handlers.base import Context, Reply
from chatbots.models import Step
from chatbots.text import normalize

WEEKDAY_NAMES = ("segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo")
# A time as typed: "9h", "09:00", "9:30", "9h30", "14 horas", "14hs"; "às 9" too. A bare
# number is never a time (chatbots.numbered: it is the number of an option).
_TIME = re.compile(r"^(?P<h>\d{1,2})\s*(?::|h|hs|hrs?|horas?)\s*(?P<m>\d{2})?\s*(?:h|hs|min)?$")
_AT_HOUR = re.compile(r"^(?:as|a) (?P<h>\d{1,2})$")
_TIME_IN_TEXT = re.compile(
    r"(?<![\d/:])(?P<h>\d{1,2})\s*(?::|h|hs|hrs?\b|horas?\b)\s*(?P<m>\d{2})?(?![\d/])"
    r"|\bas (?P<h2>\d{1,2})\b(?![/:\d])"
)
_DATE_IN_TEXT = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*\d{2,4})?(?!\d)")
_DAY_OF_MONTH = re.compile(r"\bdia (\d{1,2})\b(?!\s*[/.-]\s*\d)")
_PUNCT = re.compile(r"[^\w\s/:.-]")
# Words of a service's name that say nothing about which service it is.
_NAME_FILLERS = frozenset("de da do das dos e com a o as os em para pra no na um uma".split())
NOON = ("meio dia", "meiodia")


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", _PUNCT.sub(" ", normalize(text))).strip()


def _valid(hour: int, minute: int) -> tuple[int, int] | None:
    return (hour, minute) if hour < 24 and minute < 60 else None


def typed_time(text: str) -> tuple[int, int] | None:
    """The (hour, minute) a message that is only a time says: "14h", "9:30", "às 9"."""
    key = _key(text).replace("-", " ").strip()
    if key in NOON:
        return (12, 0)
    match = _TIME.match(key) or _AT_HOUR.match(key)
    if match is None:
        return None
    minute = match.groupdict().get("m")
    return _valid(int(match["h"]), int(minute or 0))


def time_in_text(text: str) -> tuple[int, int] | None:
    """The first time named inside a sentence ("amanhã às 14h", "as 9:30 pode ser?")."""
    key = _key(text)
    if any(noon in key for noon in NOON):
        return (12, 0)
    match = _TIME_IN_TEXT.search(key)
    if match is None:
        return None
    hour = match["h"] if match["h"] is not None else match["h2"]
    return _valid(int(hour), int(match["m"] or 0))


def day_in_text(text: str, today: date) -> date | None:
    """The day a sentence names, from `today` on: "hoje", "amanhã", "depois de amanhã",
    a weekday (the next one, today included), "07/03" or "dia 7"."""
    key = _key(text)
    words = set(key.split())
    if "depois de amanha" in key:
        return today + timedelta(days=2)
    if "amanha" in words:
        return today + timedelta(days=1)
    if "hoje" in words:
        return today
    typed = _DATE_IN_TEXT.search(key)
    if typed:
        return _next_date(today, day=int(typed.group(1)), month=int(typed.group(2)))
    for number, name in enumerate(WEEKDAY_NAMES):
        if name in words:
            return today + timedelta(days=(number - today.weekday()) % 7)
    of_month = _DAY_OF_MONTH.search(key)
    if of_month:
        return _next_date(today, day=int(of_month.group(1)))
    return None


def _next_date(today: date, *, day: int, month: int | None = None) -> date | None:
    """The first date on or after `today` with that day (and month), within a year."""
    candidates = []
    for offset in range(13):
        year, m = divmod(today.month - 1 + offset, 12)
        year, m = today.year + year, m + 1
        if month is not None and m != month:
            continue
        try:
            candidates.append(date(year, m, day))
        except ValueError:
            continue
    return next((d for d in candidates if d >= today), None)


def _name_words(name: str) -> set[str]:
    words = {w for w in _key(name).split() if w not in _NAME_FILLERS and len(w) >= 3}
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def service_in_text(text: str, services: list[Servico]) -> Servico | None:
    """The one service whose name the sentence uses ("um corte" -> "Corte de cabelo"); None
    when it names none, or several equally ("corte" with "Corte" and "Corte + barba" both
    offered, unless the sentence names every word of one: "corte e barba")."""
    said = _name_words(text)
    scored = []
    for servico in services:
        words = _name_words(servico.nome)
        hits = len(words & said)
        if hits:
            scored.append(((hits, hits == len(words)), servico))
    if not scored:
        return None
    best = max(score for score, _s in scored)
    top = [s for score, s in scored if score == best]
    return top[0] if len(top) == 1 else None


# --- The agenda's meaning of intents typed anywhere ------------------------------------

_BOOKING_STEPS = (CHOOSE_SERVICE, CHOOSE_DAY, CHOOSE_TIME, CONFIRM)


def _agenda_steps(ctx: Context) -> dict[str, str]:
    """code -> handler path of this bot's active agenda steps."""
    return dict(
        Step.objects.filter(
            chatbot=ctx.chatbot, active=True, handler_path__startswith=f"{PUBLIC_MODULE}."
        ).values_list("code", "handler_path")
    )


def _at(ctx: Context, *codes: str) -> bool:
    return (
        ctx.step is not None
        and ctx.step.code in codes
        and ctx.step.handler_path.startswith(f"{PUBLIC_MODULE}.")
    )


@intents.register("agenda")
def book_from_text(ctx: Context, rule: str) -> Reply | None:
    """ "quero marcar um corte amanhã às 14h": the booking, with what was named filled in."""
    if not set(_BOOKING_STEPS) <= set(_agenda_steps(ctx)):
        return None
    if ctx.state.get(K_RESCHEDULING) and _at(ctx, *_BOOKING_STEPS):
        return None  # moving an appointment: its steps take the answer
    services = list(agenda_selectors.servico_list_active(tenant=ctx.chatbot.tenant))
    servico = service_in_text(ctx.text, services)
    if servico is None and len(services) == 1:
        servico = services[0]
    service_id = servico.pk if servico is not None else None
    if service_id is None and _at(ctx, CHOOSE_DAY, CHOOSE_TIME, CONFIRM):
        service_id = ctx.state.get(K_SERVICE)  # "quero marcar para sexta" after choosing it
    today = timezone.now().astimezone(tenant_time_zone(ctx.chatbot.tenant)).date()
    day = day_in_text(ctx.text, today)
    time = time_in_text(ctx.text)
    state = {
        **CLEAN_STATE,
        K_AWAITING_COMMENT: ctx.state.get(K_AWAITING_COMMENT),
        K_SERVICE: service_id,
        K_WANTED_DAY: day.isoformat() if day else None,
        K_WANTED_TIME: f"{time[0]:02d}:{time[1]:02d}" if time else None,
    }
    return Reply(state=state, next_step=CHOOSE_DAY if service_id else CHOOSE_SERVICE)


@intents.register(WANTS_RULE)
def book_named_service(ctx: Context, rule: str) -> Reply | None:
    """ "queria um corte amanhã" (asking for a service by name, outside the agenda's steps,
    which read it themselves): the booking, as "quero marcar um corte amanhã"."""
    if ctx.step is not None and ctx.step.handler_path.startswith(f"{PUBLIC_MODULE}."):
        return None
    if not set(_BOOKING_STEPS) <= set(_agenda_steps(ctx)):
        return None  # no agenda in this bot
    services = list(agenda_selectors.servico_list_active(tenant=ctx.chatbot.tenant))
    if service_in_text(ctx.text, services) is None:
        return None
    return book_from_text(ctx, rule)


@intents.register("agenda_change", "meu_horario")
def my_appointment_from_text(ctx: Context, rule: str) -> Reply | None:
    """ "meu horário" shows the next appointment (again); "remarcar" and "cancelar meu
    horário" too, with its buttons, except at "Meu horário" itself, which takes them."""
    if MY_APPOINTMENT not in _agenda_steps(ctx):
        return None
    if rule == "agenda_change" and _at(ctx, MY_APPOINTMENT):
        return None
    return Reply(state={K_RESCHEDULING: None}, next_step=MY_APPOINTMENT)
