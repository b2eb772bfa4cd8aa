"""Celery wiring: JSON only, late acks, prefetch 1, queues split by urgency.

Queues (see CELERY_QUEUE_* in settings): `replies` carries the webhook -> reply path and
must never wait behind slow work; `outbound` takes the calls to the provider's API (sends
and read receipts) that end it; `llm` takes model calls; `bulk` takes campaigns, reminders
and reactivation; `default` takes maintenance. Routing lives here, in one place.

Why `outbound` is its own queue: processing a message is CPU and database work, best done by
a few processes (prefork, one per core); a send mostly waits for Meta (100-300 ms a call),
best done by many threads of one process. On one queue, 4 prefork processes stuck in sends
carried about 14 replies/s with a 150 ms Graph API; split, the same machine carries the
load it can compute (benchmarks/RESULTS.md). The Procfile runs `worker` (replies,default,
prefork) and `worker_send` (outbound, threads).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import (
    beat_init,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [
    Queue("replies"),
    Queue("outbound"),
    Queue("llm"),
    Queue("bulk"),
    Queue("default"),
]
app.conf.task_routes = {
    "chatbots.tasks.process_inbound": {"queue": "replies"},
    "chatbots.tasks.send_outbound": {"queue": "outbound"},
    "chatbots.tasks.mark_read": {"queue": "outbound"},
    "chatbots.tasks.*_llm": {"queue": "llm"},
    "campaigns.tasks.*_llm": {"queue": "llm"},
    "*.tasks.bulk_*": {"queue": "bulk"},
    # A customer's file (up to 100 MB from Meta) downloads on the slow worker, never in
    # front of the replies; a voice note's transcription follows it there (llm).
    "media.tasks.media_download": {"queue": "bulk"},
}
app.autodiscover_tasks()
# Tasks modules of subsystems inside an app (autodiscovery finds only `<app>.tasks`): the
# worker imports them at start, so it knows their tasks by name.
app.conf.imports = [
    "chatbots.outbox.tasks",
    "chatbots.ai.tasks",
    "integrations.report_tasks",
    "chatbots.connection_tasks",
]


@task_prerun.connect
@task_postrun.connect
def _db_connections_fresh(task=None, **_kwargs) -> None:
    """Per task, what Django does per request: drop a connection past CONN_MAX_AGE or
    broken by an error, and health-check the kept one before its first use. Celery's own
    fixup only closes every CELERY_DB_REUSE_MAX tasks (settings). Eager tasks run inside
    the caller's transaction and connection: never touch those."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


# Heartbeats for /healthz (imported for its signal handlers).
from config import heartbeat  # noqa: E402,F401


# Metrics of the worker and beat processes (config/process_metrics.py): served on
# METRICS_PORT when each runs in its own container; on one host the web adds them up.
@worker_init.connect
def _serve_worker_metrics(**_kwargs) -> None:
    from config import process_metrics

    process_metrics.serve("worker")


@beat_init.connect
def _serve_beat_metrics(**_kwargs) -> None:
    from config import process_metrics

    process_metrics.serve("beat")


@worker_process_shutdown.connect
def _forget_child_gauges(pid=None, **_kwargs) -> None:
    from config import process_metrics

    process_metrics.process_exited(pid or os.getpid())
