"""A queue's business hours: whether it is open now, and when it opens next.

Hours are QueueHours rows (weekday, opens, closes) in the queue's time zone (Queue.time_zone,
else the tenant's, America/Sao_Paulo by default); QueueHoliday days are closed all day. A
queue with no hours at all is always open, so a new tenant's default queue never tells a
customer it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from inbox.models import Queue

# Look this far ahead for the next opening: past a long holiday season, not forever.
LOOKAHEAD_DAYS = 45


@dataclass(frozen=True)
class Schedule:
    """A queue's hours and holidays, read once."""

    zone: ZoneInfo
    week: dict[int, list[tuple[time, time]]]
    holidays: frozenset[date]

    @property
    def always_open(self) -> bool:
        return not self.week


def queue_zone(queue: Queue) -> ZoneInfo:
    for name in (queue.time_zone, getattr(queue.tenant, "time_zone", ""), settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("America/Sao_Paulo")


def schedule_of(queue: Queue) -> Schedule:
    week: dict[int, list[tuple[time, time]]] = {}
    for row in queue.hours.all():
        week.setdefault(row.weekday, []).append((row.opens, row.closes))
    for intervals in week.values():
        intervals.sort()
    holidays = frozenset(h.date for h in queue.holidays.all())
    return Schedule(zone=queue_zone(queue), week=week, holidays=holidays)


def is_open(schedule: Schedule, at: datetime) -> bool:
    if schedule.always_open:
        return True
    local = at.astimezone(schedule.zone)
    if local.date() in schedule.holidays:
        return False
    now = local.time()
    return any(opens <= now < closes for opens, closes in schedule.week.get(local.weekday(), []))


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """The next moment the queue opens after `at` (None: open now, or no opening ahead)."""
    if is_open(schedule, at):
        return None
    local = at.astimezone(schedule.zone)
    for offset in range(LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        if day in schedule.holidays:
            continue
        for opens, _closes in schedule.week.get(day.weekday(), []):
            start = datetime.combine(day, opens, tzinfo=schedule.zone)
            if start > local:
                return start
    return None


def open_seconds_between(schedule: Schedule, start: datetime, end: datetime) -> float:
    """Seconds within business hours between `start` and `end` (a wait counts only while
    someone could have answered)."""
    if end <= start:
        return 0.0
    if schedule.always_open:
        return (end - start).total_seconds()
    total = 0.0
    first, last = start.astimezone(schedule.zone), end.astimezone(schedule.zone)
    day = first.date()
    while day <= last.date():
        if day not in schedule.holidays:
            for opens, closes in schedule.week.get(day.weekday(), []):
                a = max(first, datetime.combine(day, opens, tzinfo=schedule.zone))
                b = min(last, datetime.combine(day, closes, tzinfo=schedule.zone))
                if b > a:
                    total += (b - a).total_seconds()
        day += timedelta(days=1)
    return total


def opens_at_label(opening: datetime, now: datetime) -> str:
    """ "hoje às 08:00", "amanhã às 08:00", "segunda-feira (12/05) às 08:00" in pt-BR."""
    local_now = now.astimezone(opening.tzinfo)
    hour = opening.strftime("%H:%M")
    days = (opening.date() - local_now.date()).days
    if days == 0:
        return _("hoje às %(hour)s") % {"hour": hour}
    if days == 1:
        return _("amanhã às %(hour)s") % {"hour": hour}
    weekday = formats.date_format(opening, "l").lower()
    return _("%(weekday)s (%(date)s) às %(hour)s") % {
        "weekday": weekday,
        "date": opening.strftime("%d/%m"),
        "hour": hour,
    }


def queue_open_now(queue: Queue, now: datetime | None = None) -> bool:
    return is_open(schedule_of(queue), now or timezone.now())
