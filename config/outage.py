"""Riding out an outage of PostgreSQL or Redis: which errors are transient, and the wait.

A long-running loop (manage.py run_processor, run_sender) that meets one of TRANSIENT closes
its connection, waits, and tries again: the database or Redis restarting is nobody's fault,
and nothing a customer sent is failed because of it. `Backoff` is the wait: capped
exponential with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter":
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), so a fleet of
consumers does not reconnect in the same instant, logged once when the outage starts and
once when it ends instead of once per try.
"""

from __future__ import annotations

import logging
import random
import threading
import time

import redis
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# A lost or refused connection to PostgreSQL (psycopg raises OperationalError; Django wraps
# it, and InterfaceError when the connection was already closed) or to Redis. Not
# DatabaseError in general: an IntegrityError or a DataError is a bug or bad data, which
# retrying would never fix.
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) is an infrastructure outage."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TRANSIENT):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class Backoff:
    """The wait between tries while `name` cannot reach what it needs.

    `failed(exc)` after a try that met an outage returns the seconds to wait (first ~`base`,
    doubling up to `cap`) and logs the outage's start; `ok()` after a try that worked ends it,
    logging how long it lasted and how many tries it took.
    """

    def __init__(self, name: str, *, base: float = 0.5, cap: float = 10.0) -> None:
        self.name = name
        self.base = base
        self.cap = cap
        self.failures = 0
        self.since: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException) -> float:
        with self._lock:
            self.failures += 1
            if self.failures == 1:
                self.since = time.monotonic()
                logger.warning(
                    "%s lost its connection; retrying with backoff",
                    self.name,
                    extra={"component": self.name, "error": f"{type(exc).__name__}: {exc}"[:300]},
                )
            step = min(self.cap, self.base * 2 ** (self.failures - 1))
        return step / 2 + random.uniform(0, step / 2)

    def ok(self) -> None:
        with self._lock:
            if not self.failures:
                return
            lasted = time.monotonic() - (self.since or time.monotonic())
            logger.warning(
                "%s reconnected",
                self.name,
                extra={
                    "component": self.name,
                    "outage_seconds": round(lasted, 1),
                    "tries": self.failures,
                },
            )
            self.failures = 0
            self.since = None
