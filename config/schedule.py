"""The beat schedule, declared in code, in one place.

`manage.py setup_periodic_tasks` writes it into django-celery-beat's tables (idempotent);
entries it created earlier that are no longer listed here are removed, so a deploy always
leaves exactly this schedule. Each entry has either `every` (seconds) or `crontab`
(fields of django-celery-beat's CrontabSchedule, in the project's time zone).
"""

from __future__ import annotations

SCHEDULE: dict[str, dict] = {
    # Re-queue webhooks stored but not processed (broker outage, worker crash).
    "chatbots.sweep_inbound": {"task": "chatbots.tasks.sweep_inbound", "every": 60},
    # Re-queue outbound messages left queued (broker outage between commit and enqueue).
    "chatbots.sweep_outbound": {"task": "chatbots.tasks.sweep_outbound", "every": 30},
    # Remind customers of carts left unconfirmed, delete old carts (orders issue).
    "pedidos.stale_carts": {
        "task": "pedidos.tasks.bulk_stale_carts",
        "every": 6 * 3600,
        "queue": "bulk",
    },
}

# Marks the rows this command owns in django-celery-beat, so hand-made ones are left alone.
OWNER_PREFIX = "[code] "
