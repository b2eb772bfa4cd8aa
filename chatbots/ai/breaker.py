"""A circuit breaker shared by every worker, its state in the cache (Redis in production).

    closed ──N failures within WINDOW──▶ open ──OPEN_FOR elapses──▶ half-open
      ▲                                   ▲                            │ one probe call
      └────────── probe succeeds ─────────┼──────── probe fails ───────┘

* closed: calls go through; failures and timeouts are counted in a fixed window that starts
  at the first failure (an atomic INCR on a key that expires with the window).
* open: no call is made; the caller answers from its fallback at once.
* half-open: after OPEN_FOR seconds, exactly one caller (an atomic ADD on a probe key) gets
  to try; success closes the breaker, failure opens it again for OPEN_FOR.

Every worker and web process sees the same state, so a model outage costs N slow calls in
total, not N per process. State changes are logged and counted; the state is a gauge.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}

STATE = Gauge(
    "chatbot_ai_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open",
    ["name"],
    multiprocess_mode="mostrecent",
)
TRANSITIONS = Counter(
    "chatbot_ai_breaker_transitions_total", "Circuit breaker state changes", ["name", "to"]
)
SHORT_CIRCUITS = Counter(
    "chatbot_ai_breaker_short_circuits_total",
    "Calls not made because the circuit breaker was open",
    ["name"],
)


@dataclass(frozen=True)
class CircuitBreaker:
    name: str
    failures: int = 5  # failures within `window` that open the breaker
    window: float = 60.0  # seconds
    open_for: float = 30.0  # seconds before a probe may try again

    # --- keys ---------------------------------------------------------------------------
    @property
    def _opened_until(self) -> str:
        return f"ai:breaker:{self.name}:opened_until"

    @property
    def _failures(self) -> str:
        return f"ai:breaker:{self.name}:failures"

    @property
    def _probe(self) -> str:
        return f"ai:breaker:{self.name}:probe"

    # Kept well past open_for, so an open breaker stays open (then half-open) until a probe
    # decides, even if no call comes for a while.
    @property
    def _ttl(self) -> int:
        return int(max(self.open_for * 20, 3600))

    # --- reading ------------------------------------------------------------------------
    def state(self) -> str:
        until = cache.get(self._opened_until)
        if until is None:
            state = CLOSED
        elif time.time() < float(until):
            state = OPEN
        else:
            state = HALF_OPEN
        STATE.labels(name=self.name).set(_STATE_VALUE[state])
        return state

    def is_open(self) -> bool:
        """True while calls must not be made at all (open, no probe due). No side effects."""
        return self.state() == OPEN

    # --- deciding -----------------------------------------------------------------------
    def allow(self) -> bool:
        """May this caller call now? Closed: yes. Open: no. Half-open: only the one prober."""
        state = self.state()
        if state == CLOSED:
            return True
        if state == HALF_OPEN and cache.add(self._probe, 1, timeout=self._probe_ttl):
            logger.info("circuit breaker %s half-open: probing", self.name)
            self._transition(HALF_OPEN)
            return True
        SHORT_CIRCUITS.labels(name=self.name).inc()
        return False

    @property
    def _probe_ttl(self) -> int:
        # If the prober dies without reporting, another probe may go after this long.
        return int(max(self.open_for, 30))

    def record_success(self) -> None:
        if cache.get(self._opened_until) is not None:
            cache.delete_many([self._opened_until, self._probe, self._failures])
            logger.warning("circuit breaker %s closed: the model answers again", self.name)
            self._transition(CLOSED)

    def record_failure(self) -> None:
        until = cache.get(self._opened_until)
        if until is not None:
            if time.time() >= float(until):  # the probe failed: open again
                self._open("probe failed")
            return
        cache.add(self._failures, 0, timeout=int(self.window))
        try:
            count = cache.incr(self._failures)
        except ValueError:  # the window expired between add and incr
            cache.add(self._failures, 1, timeout=int(self.window))
            count = 1
        if count == self.failures:  # exactly one worker sees the threshold crossed
            self._open(f"{count} failures within {self.window:g} s")

    def reset(self) -> None:
        cache.delete_many([self._opened_until, self._probe, self._failures])
        STATE.labels(name=self.name).set(0)

    # --- internals ----------------------------------------------------------------------
    def _open(self, why: str) -> None:
        cache.set(self._opened_until, time.time() + self.open_for, timeout=self._ttl)
        cache.delete_many([self._probe, self._failures])
        logger.warning("circuit breaker %s opened for %g s: %s", self.name, self.open_for, why)
        self._transition(OPEN)

    def _transition(self, to: str) -> None:
        TRANSITIONS.labels(name=self.name, to=to).inc()
        STATE.labels(name=self.name).set(_STATE_VALUE[to])


def gemini_breaker() -> CircuitBreaker:
    """The breaker in front of the Gemini API (GEMINI_BREAKER_* settings)."""
    return CircuitBreaker(
        name="gemini",
        failures=settings.GEMINI_BREAKER_FAILURES,
        window=settings.GEMINI_BREAKER_WINDOW_SECONDS,
        open_for=settings.GEMINI_BREAKER_OPEN_SECONDS,
    )
