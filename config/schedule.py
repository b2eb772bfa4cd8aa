"""The beat schedule, declared in code, in one place.

`manage.py setup_periodic_tasks` writes it into django-celery-beat's tables (idempotent);
entries it created earlier that are no longer listed here are removed, so a deploy always
leaves exactly this schedule. Each entry has either `every` (seconds) or `crontab`
(fields of django-celery-beat's CrontabSchedule, in the project's time zone).
"""

from __future__ import annotations

SCHEDULE: dict[str, dict] = {}

# Marks the rows this command owns in django-celery-beat, so hand-made ones are left alone.
OWNER_PREFIX = "[code] "
