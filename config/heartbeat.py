"""Worker and beat heartbeats, kept in the shared cache for /healthz to read.

A daemon thread in each worker and in beat writes "now" every HEARTBEAT_INTERVAL seconds.
The cache is Redis in production and a file cache in the embedded mode, both shared by
every process on the machine (or the cluster), so any web process can read them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

from celery.signals import beat_init, worker_ready, worker_shutdown

# Seconds between beats; HEARTBEAT_INTERVAL_SECONDS shortens it where HEALTHZ_WORKER_MAX_AGE is
# short too (the fault suite, benchmarks/chaos.py, wants a dead process red within seconds).
# A module constant, as the processor and sender read it at every loop turn.
HEARTBEAT_INTERVAL = float(os.environ.get("HEARTBEAT_INTERVAL_SECONDS") or 15)
WORKER_KEY = "ops:heartbeat:worker"
BEAT_KEY = "ops:heartbeat:beat"
PROCESSOR_KEY = "ops:heartbeat:processor"
SENDER_KEY = "ops:heartbeat:sender"
# Every process with a heartbeat, by the name /metrics gives it (ops_heartbeat_age_seconds).
KEYS = {
    "worker": WORKER_KEY,
    "beat": BEAT_KEY,
    "processor": PROCESSOR_KEY,
    "sender": SENDER_KEY,
}

logger = logging.getLogger(__name__)
_stop = threading.Event()


def beat(key: str) -> None:
    from django.core.cache import cache

    try:
        cache.set(key, time.time(), timeout=24 * 3600)
    except Exception:  # a cache outage must not kill the worker; /healthz will say so
        logger.warning("heartbeat write failed", extra={"key": key}, exc_info=True)


def last_beat(key: str) -> float | None:
    from django.core.cache import cache

    return cache.get(key)


def _loop(key: str) -> None:
    while not _stop.is_set():
        beat(key)
        _stop.wait(HEARTBEAT_INTERVAL)


def _start(key: str) -> None:
    threading.Thread(target=_loop, args=(key,), name=f"heartbeat-{key}", daemon=True).start()


def queue_key(queue: str) -> str:
    """The heartbeat of the workers consuming `queue`: /healthz names a queue whose workers
    all went silent while another worker (another queue's) still beats WORKER_KEY."""
    return f"{WORKER_KEY}:{queue}"


def _worker_loop(queues: list[str]) -> None:
    while not _stop.is_set():
        beat(WORKER_KEY)
        for queue in queues:
            beat(queue_key(queue))
        _stop.wait(HEARTBEAT_INTERVAL)


@worker_ready.connect
def _on_worker_ready(sender=None, **_kwargs) -> None:
    queues: list[str] = []
    with contextlib.suppress(Exception):  # the queue names are a bonus; the beat is not
        queues = sorted(sender.app.amqp.queues.consume_from)
    threading.Thread(
        target=_worker_loop, args=(queues,), name="heartbeat-worker", daemon=True
    ).start()


@beat_init.connect
def _on_beat_init(**_kwargs) -> None:
    _start(BEAT_KEY)


@worker_shutdown.connect
def _on_worker_shutdown(**_kwargs) -> None:
    _stop.set()
