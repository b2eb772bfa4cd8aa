"""Opening hours: the week a business takes orders, as it types it, and whether it is open.

A schedule is a dict of weekday keys (pedidos.models.DIAS_SEMANA: "seg" ... "dom") to one or
more intervals, as stored in ConfiguracaoPedidos.horarios:

    {"ter": "18:00-23:00", "sab": "11:00-15:00, 18:00-02:00", "seg-sex": "18h-23h"}

A day missing is closed; an empty schedule is always open. An interval that ends at or
before it starts runs past midnight and belongs to the day it starts on ("sex 18:00-02:00"
is open at 01:00 on Saturday); start equal to end is the whole day. Times are the tenant's
local time (Tenant.time_zone).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.text import normalize

DAYS = ("seg", "ter", "qua", "qui", "sex", "sab", "dom")  # datetime.weekday() order
# As describe() shows them to the customer.
DAY_LABELS = (
    gettext_lazy("seg"),
    gettext_lazy("ter"),
    gettext_lazy("qua"),
    gettext_lazy("qui"),
    gettext_lazy("sex"),
    gettext_lazy("sáb"),
    gettext_lazy("dom"),
)
_CLOSED_WORDS = {"", "fechado", "fechada", "nao abre", "-"}
_TIME = r"(\d{1,2})(?:[:h](\d{2})?)?"
_INTERVAL = re.compile(rf"^{_TIME}\s*(?:-|–|a|as|ate)\s*{_TIME}$")

Interval = tuple[time, time]


def _day_index(key: str) -> int | None:
    word = normalize(key)[:3]
    return DAYS.index(word) if word in DAYS else None


def _days_of(key: str) -> list[int]:
    """ "seg" -> [0]; "seg-sex" -> [0..4]; "sab, dom" -> [5, 6]; unknown -> []."""
    days: list[int] = []
    for part in re.split(r"[,/]| e ", normalize(key)):
        ends = [p.strip() for p in re.split(r"-|–| a ", part) if p.strip()]
        indexes = [_day_index(e) for e in ends]
        if not ends or None in indexes or len(indexes) > 2:
            return []
        first, last = indexes[0], indexes[-1]
        span = (last - first) % 7
        days += [(first + i) % 7 for i in range(span + 1)]
    return days


def _time_of(hours: str, minutes: str | None) -> time | None:
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        return time(0, 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


def _intervals_of(value: str) -> list[Interval] | None:
    """ "18:00-23:00, 11h-15h" -> [(18:00, 23:00), (11:00, 15:00)]; closed -> []; bad -> None."""
    text = normalize(value)
    if text in _CLOSED_WORDS:
        return []
    found = []
    for part in re.split(r",|;| e ", text):
        match = _INTERVAL.match(part.strip())
        if not match:
            return None
        start, end = _time_of(*match.group(1, 2)), _time_of(*match.group(3, 4))
        if start is None or end is None:
            return None
        found.append((start, end))
    return found


def _fmt(interval: Interval) -> str:
    return f"{interval[0]:%H:%M}-{interval[1]:%H:%M}"


def schedule_clean(value) -> dict[str, str]:
    """The schedule in its stored form ({"seg": "18:00-23:00", ...}, Monday first), or
    ValidationError naming the first entry that is not understood and an example."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            _('Informe os horários como um objeto JSON, ex.: {"seg-sex": "18:00-23:00"}.')
        )
    by_day: dict[int, list[Interval]] = {}
    for key, text in value.items():
        days = _days_of(str(key))
        if not days:
            raise ValidationError(
                _(
                    "Dia “%(key)s” não reconhecido: use seg, ter, qua, qui, sex, sab, dom ou um intervalo como seg-sex."
                )
                % {"key": key}
            )
        intervals = _intervals_of(str(text)) if isinstance(text, str) else None
        if intervals is None:
            raise ValidationError(
                _(
                    "Horário “%(value)s” (%(key)s) não reconhecido: use, por exemplo, 18:00-23:00 ou 11:00-15:00, 18:00-23:00."
                )
                % {"value": text, "key": key}
            )
        for day in days:
            by_day.setdefault(day, []).extend(intervals)
    return {
        DAYS[day]: ", ".join(_fmt(i) for i in sorted(set(intervals)))
        for day, intervals in sorted(by_day.items())
        if intervals
    }


def _parsed(schedule: dict) -> dict[int, list[Interval]]:
    """The stored schedule as intervals by weekday (a stored one is already clean)."""
    out: dict[int, list[Interval]] = {}
    for key, text in (schedule or {}).items():
        index = _day_index(key)
        intervals = _intervals_of(text) if isinstance(text, str) else None
        if index is not None and intervals:
            out[index] = intervals
    return out


def _spans(schedule: dict, around: datetime) -> list[tuple[datetime, datetime]]:
    """The open spans from the day before `around` to a week after, as aware datetimes."""
    days = _parsed(schedule)
    spans = []
    base = around.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(-1, 8):
        day = base + timedelta(days=offset)
        for start, end in days.get(day.weekday(), []):
            opens = day.replace(hour=start.hour, minute=start.minute)
            closes = day.replace(hour=end.hour, minute=end.minute)
            if closes <= opens:
                closes += timedelta(days=1)
            spans.append((opens, closes))
    return sorted(spans)


def is_open(schedule: dict, at: datetime) -> bool:
    """Whether `at` (aware, in the tenant's zone) falls in an open interval."""
    if not schedule:
        return True
    return any(opens <= at < closes for opens, closes in _spans(schedule, at))


def next_opening(schedule: dict, at: datetime) -> datetime | None:
    """When the business opens next after `at`, within a week; None if never."""
    starts = [opens for opens, _closes in _spans(schedule, at) if opens > at]
    return starts[0] if starts else None


def when_text(opens: datetime, now: datetime) -> str:
    """ "hoje às 18:00", "amanhã às 11:00", "sexta às 18:00" (pt-BR, for the customer)."""
    days = (opens.date() - now.date()).days
    hour = f"{opens:%H:%M}"
    if days == 0:
        return _("hoje às %(hora)s") % {"hora": hour}
    if days == 1:
        return _("amanhã às %(hora)s") % {"hora": hour}
    names = (
        _("segunda"),
        _("terça"),
        _("quarta"),
        _("quinta"),
        _("sexta"),
        _("sábado"),
        _("domingo"),
    )
    return _("%(dia)s às %(hora)s") % {"dia": names[opens.weekday()], "hora": hour}


def describe(schedule: dict) -> str:
    """The week as a customer reads it, one day a line ("sáb: 11:00-15:00, 18:00-02:00")."""
    days = _parsed(schedule)
    if not schedule:
        return _("Atendemos todos os dias, a qualquer hora.")
    lines = []
    for index, label in enumerate(DAY_LABELS):
        intervals = days.get(index)
        text = ", ".join(_fmt(i) for i in intervals) if intervals else _("fechado")
        lines.append(f"{label}: {text}")
    return "\n".join(lines)
