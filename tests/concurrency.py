"""Run functions in threads that start together, for the tests that race real workers
against each other on the real PostgreSQL (transaction=True tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def run_at_once(targets: list[Callable[[], object]], *, timeout: float = 60) -> None:
    """Start every target at the same moment (a barrier), each on its own thread and
    database connection; wait for all; fail with the exceptions any of them raised."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def wrap(fn):
        def inner():
            try:
                barrier.wait()
                fn()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        return inner

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not errors, errors
