"""How many threads a sender's round sends on: as many as the provider's answer time needs,
never more than SENDER_THREADS.

Threads are there to wait on a slow provider side by side (Meta answers in 100–300 ms, so 20
sends one after the other would take seconds). When the provider answers in a millisecond
they only fight over the interpreter lock: on this project's benchmark 16 threads cost a
send about 40 % more CPU than one thread (benchmarks/RESULTS.md), for no gain, since the
process is then bound by its CPU anyway.

So after each round the sender tells its `Pace` how long the round took (wall clock), how
much CPU the process used meanwhile and how much of it was spent waiting in calls. A round
whose process was busy most of the time (CPU-bound: more threads would only queue for the
lock) halves the threads; otherwise the next round gets what Little's law asks for, the
rows' expected waiting (`rows x seconds per call`) spread so that a round lasts about
`ROUND_TARGET`. The first round, with nothing measured, uses every thread.
"""

from __future__ import annotations

import math
import threading

# A round's work spread over enough threads to end in about this long.
ROUND_TARGET = 0.025
# The process used at least this share of one core during the round: bound by its CPU.
CPU_BOUND = 0.6
# Weight of the newest round in the running estimate of a call's answer time.
SMOOTHING = 0.3


class Pace:
    """The thread count of a sender's next round. Thread-safe."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._lock = threading.Lock()
        self._call: float | None = None  # seconds a call takes, running estimate
        self._cap = self.threads  # lowered while the process is bound by its CPU

    def workers(self, rows: int) -> int:
        """Threads for a round of `rows` sends (or receipts): at least one, at most one per row."""
        if rows <= 1:
            return 1
        with self._lock:
            call, cap = self._call, self._cap
        if call is None:
            return min(self.threads, rows)
        wanted = math.ceil(rows * call / ROUND_TARGET)
        return max(1, min(cap, rows, wanted))

    def observe(self, *, workers: int, calls: int, waited: float, wall: float, cpu: float) -> None:
        """A round on `workers` threads made `calls` calls that took `waited` seconds in all
        (summed over the threads), in `wall` seconds while the process used `cpu` seconds."""
        if calls <= 0 or wall <= 0:
            return
        per_call = waited / calls
        with self._lock:
            self._call = (
                per_call
                if self._call is None
                else (1 - SMOOTHING) * self._call + SMOOTHING * per_call
            )
            if cpu / wall >= CPU_BOUND:
                self._cap = max(1, min(self._cap, workers) // 2)
            else:
                self._cap = min(self.threads, max(self._cap, workers) * 2)
