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
    # Every number's connection (an Evolution session that dropped, a revoked Meta token):
    # the result feeds chatbot_number_connected on /metrics and its alert.
    "chatbots.check_connections": {
        "task": "chatbots.connection_tasks.bulk_check_connections",
        "every": 5 * 60,
        "queue": "bulk",
    },
    # Re-queue outbound messages left queued (broker outage between commit and enqueue).
    "chatbots.sweep_outbound": {"task": "chatbots.tasks.sweep_outbound", "every": 30},
    # A number whose replies stopped leaving tells its owners (chatbots.health): every 5 min.
    "chatbots.silent_bots": {"task": "chatbots.tasks.silent_bots_alert", "every": 5 * 60},
    # Move the Redis usage counters to the daily rows and check the plan alerts; usage shown
    # to a tenant lags by at most this (billing.metering).
    # Re-queue downloads of customers' files left pending (broker outage, lost worker).
    "media.sweep_downloads": {"task": "media.tasks.sweep_downloads", "every": 5 * 60},
    "billing.flush_usage": {"task": "billing.tasks.flush_usage", "every": 30},
    # Templates and their status at Meta, including those made in Meta's manager; the
    # status webhooks bring changes at once, this catches what they missed.
    "chatbots.sync_templates": {
        "task": "chatbots.tasks.bulk_sync_templates",
        "every": 6 * 3600,
        "queue": "bulk",
    },
    # Remind customers of carts left unconfirmed, delete old carts (orders issue).
    "pedidos.stale_carts": {
        "task": "pedidos.tasks.bulk_stale_carts",
        "every": 6 * 3600,
        "queue": "bulk",
    },
    # Appointment reminders 24 h and 1 h before the start (appointments issue). Every 5 min,
    # so a reminder goes at most 5 minutes late; each one is claimed, never sent twice.
    "agenda.reminders": {
        "task": "agenda.tasks.bulk_send_reminders",
        "every": 5 * 60,
        "queue": "bulk",
    },
    # No-shows: past the end plus the tenant's tolerance, not attended.
    "agenda.no_shows": {
        "task": "agenda.tasks.bulk_mark_no_shows",
        "every": 15 * 60,
        "queue": "bulk",
    },
    # The satisfaction question, one hour after an attended appointment.
    "agenda.followups": {
        "task": "agenda.tasks.bulk_send_followups",
        "every": 5 * 60,
        "queue": "bulk",
    },
    # No-show risk of the next 48 hours' appointments, and the extra confirmation request
    # to the likely no-shows (agenda.noshow). Every 15 minutes.
    "agenda.no_show_risk": {
        "task": "agenda.tasks.bulk_no_show_risk",
        "every": 15 * 60,
        "queue": "bulk",
    },
    # Each tenant's no-show model refitted on its history: nightly, 03:50.
    "agenda.no_show_models": {
        "task": "agenda.tasks.bulk_fit_no_show_models",
        "crontab": {"minute": "50", "hour": "3"},
        "queue": "bulk",
    },
    # Tickets waiting past their queue's limit: back to the bot or a message (inbox.waits).
    # Every minute: a queue's limit is in minutes.
    "inbox.waiting_timeouts": {
        "task": "inbox.tasks.bulk_waiting_timeouts",
        "every": 60,
        "queue": "bulk",
    },
    # Campaigns whose start time came, or whose number's 24-hour tier window freed
    # (campaigns.services.campaigns_due). Every minute.
    "campaigns.due": {
        "task": "campaigns.tasks.bulk_campaigns_due",
        "every": 60,
        "queue": "bulk",
    },
    # Messages staff scheduled to one customer (campaigns.scheduled). Every minute.
    "campaigns.scheduled_due": {
        "task": "campaigns.tasks.bulk_scheduled_due",
        "every": 60,
        "queue": "bulk",
    },
    # Satisfaction surveys after tickets attendants closed (campaigns.surveys). Every minute.
    "campaigns.surveys_due": {
        "task": "campaigns.tasks.bulk_surveys_due",
        "every": 60,
        "queue": "bulk",
    },
    # Customer segments and churn lateness (insights.segments): daily, 03:50, before the
    # day's campaigns and the win-back list are read.
    "insights.refresh_segments": {
        "task": "insights.tasks.bulk_refresh_segments",
        "crontab": {"minute": "50", "hour": "3"},
        "queue": "bulk",
    },
    # Expired API refresh tokens (simplejwt keeps every issued one): daily, 04:10.
    "billing.flush_expired_tokens": {
        "task": "billing.tasks.flush_expired_tokens",
        "crontab": {"minute": "10", "hour": "4"},
    },
    # LGPD retention: blank old message texts, delete old raw webhooks and audit entries
    # (compliance issue). Weekly, Sunday 03:30, when traffic is lowest.
    "compliance.retention": {
        "task": "compliance.tasks.retention_run",
        "crontab": {"minute": "30", "hour": "3", "day_of_week": "0"},
    },
    # Reactivation template at 10:00 in each tenant's time zone: hourly, each run acts for
    # the tenants whose local hour is REACTIVATION_HOUR (compliance issue).
    "compliance.reactivation": {
        "task": "compliance.tasks.reactivation_run",
        "crontab": {"minute": "2"},
        "queue": "bulk",
    },
    # Event webhooks whose retry is due, and claims a crashed worker left (integrations).
    "integrations.webhook_sweep": {
        "task": "integrations.tasks.bulk_webhook_sweep",
        "every": 60,
        "queue": "bulk",
    },
    # Last month's report (PDF) to each tenant's owners: the 1st, 07:00 (integrations.report).
    "integrations.monthly_reports": {
        "task": "integrations.report_tasks.bulk_monthly_reports",
        "crontab": {"minute": "0", "hour": "7", "day_of_month": "1"},
        "queue": "bulk",
    },
}

# Marks the rows this command owns in django-celery-beat, so hand-made ones are left alone.
OWNER_PREFIX = "[code] "
