"""/healthz: each component's latency, 503 naming the ones that fail.

Components: database, cache, broker (Redis for both in production, so an outage names
Redis), the heartbeat ages of the Celery worker and beat and of the reply path's consumers
(the processor and the sender). /healthz/live only says the process answers, for
load balancers that must not restart web processes because a worker is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import Counter

from config import heartbeat

HEALTH_FAILURES = Counter(
    "healthz_check_failures_total",
    "Failed /healthz checks, by component (database, cache, broker, worker, beat, ...)",
    ["component"],
)


class ComponentDown(Exception):
    pass


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("ops:healthz", "ok", timeout=30)
    if cache.get("ops:healthz") != "ok":
        raise ComponentDown("cache did not return what was written")


def _check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        # One immediate retry: kombu's default waits 2 s before it, which would make every
        # probe of a down broker slow enough for a load balancer to time out instead of
        # reading the 503 that names it.
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)


def _heartbeat_check(key: str) -> Callable[[], dict]:
    def check() -> dict:
        last = heartbeat.last_beat(key)
        if last is None:
            raise ComponentDown("no heartbeat yet: is the process running?")
        age = time.time() - last
        if age > settings.HEALTHZ_WORKER_MAX_AGE:
            raise ComponentDown(f"last heartbeat {age:.0f}s ago")
        return {"age_seconds": round(age, 1)}

    return check


def _worker_check() -> dict:
    """Some worker beats, and every queue a worker once consumed still has one: three
    workers of the Procfile beat the same key, so one killed would hide behind the others."""
    found = _heartbeat_check(heartbeat.WORKER_KEY)()
    from config.celery import app

    now = time.time()
    for queue in sorted(q.name for q in app.conf.task_queues or ()):
        last = heartbeat.last_beat(heartbeat.queue_key(queue))
        if last is not None and now - last > settings.HEALTHZ_WORKER_MAX_AGE:
            raise ComponentDown(f"no worker on queue {queue!r} for {now - last:.0f}s")
    return found


def _backend_name(component: str) -> str:
    if component in ("cache", "broker"):
        return (
            "redis"
            if settings.REDIS_URL
            else ("file cache" if component == "cache" else "filesystem")
        )
    if component == "database":
        return connection.vendor
    if component in ("processor", "sender"):
        return "manage.py run_" + component
    return "celery"


def components() -> dict[str, Callable]:
    checks: dict[str, Callable] = {
        "database": _check_database,
        "cache": _check_cache,
        "broker": _check_broker,
    }
    if settings.HEALTHZ_CHECK_WORKERS:
        checks["worker"] = _worker_check
        checks["beat"] = _heartbeat_check(heartbeat.BEAT_KEY)
        # The long-running consumers of the reply path (manage.py run_processor, run_sender).
        checks["processor"] = _heartbeat_check(heartbeat.PROCESSOR_KEY)
        checks["sender"] = _heartbeat_check(heartbeat.SENDER_KEY)
    return checks


def run_checks() -> tuple[bool, dict]:
    report: dict[str, dict] = {}
    healthy = True
    for name, check in components().items():
        started = time.perf_counter()
        entry: dict = {"backend": _backend_name(name)}
        try:
            extra = check()
            entry["status"] = "ok"
            if isinstance(extra, dict):
                entry.update(extra)
        except Exception as exc:  # every failure is reported, never raised to the client
            healthy = False
            HEALTH_FAILURES.labels(component=name).inc()
            entry["status"] = "error"
            entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
        entry["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        report[name] = entry
    return healthy, report


@never_cache
@require_GET
def healthz(request):
    healthy, report = run_checks()
    failing = [
        f"{name} ({entry['backend']})" for name, entry in report.items() if entry["status"] != "ok"
    ]
    body = {"status": "ok" if healthy else "error", "mode": settings.MODE, "components": report}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok"})
