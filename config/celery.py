"""Celery wiring: JSON only, late acks, prefetch 1, queues split by urgency.

Queues (see CELERY_QUEUE_* in settings): `replies` carries the webhook -> reply path and
must never wait behind slow work; `llm` takes model calls; `bulk` takes campaigns, reminders
and reactivation; `default` takes maintenance. Routing lives here, in one place.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue("replies"), Queue("llm"), Queue("bulk"), Queue("default")]
app.conf.task_routes = {
    "chatbots.tasks.process_inbound": {"queue": "replies"},
    "chatbots.tasks.send_outbound": {"queue": "replies"},
    "chatbots.tasks.mark_read": {"queue": "replies"},
    "chatbots.tasks.*_llm": {"queue": "llm"},
    "*.tasks.bulk_*": {"queue": "bulk"},
}
app.autodiscover_tasks()

# Heartbeats for /healthz (imported for its signal handlers).
from config import heartbeat  # noqa: E402,F401
