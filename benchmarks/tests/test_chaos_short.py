"""The fault suite's short form (benchmarks/chaos.py): on the production stack, a SIGKILL of
the processor (started again 3 s later) and a Redis restart, each during a small burst from
many customers, lose, duplicate and reorder no reply, and /healthz is green again after.

The stack (its own PostgreSQL, Redis, migrations, gunicorn and the Procfile's processes)
takes one to three minutes to start on a shared 2-core machine, over the suite's time
budget, so the test runs when CHAOS_SHORT=1 (`CHAOS_SHORT=1 ./run_tests.sh
benchmarks/tests/test_chaos_short.py`); `make chaos` is the full run, and
benchmarks/tests/test_fault_short.py the short form the suite runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from benchmarks import chaos, report

pytestmark = pytest.mark.skipif(
    os.environ.get("CHAOS_SHORT") != "1"
    or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    or shutil.which("redis-server") is None,
    reason="CHAOS_SHORT=1 runs it (needs PostgreSQL's and Redis's server binaries)",
)


def test_a_killed_processor_and_a_redis_restart_lose_no_reply():
    results = chaos.run(("processor", "redis"), messages=40, customers=10, settle=90)

    for figures in results:
        assert figures["lost"] == 0, figures
        assert figures["duplicated"] == 0, figures
        assert figures["out_of_order"] == 0, figures
        assert figures["replied"] == figures["answered_200"] == 40, figures
        assert figures["processes_alive"], figures
        assert figures["healthz_green_after_s"] is not None, figures
    redis = next(f for f in results if f["fault"] == "redis")
    assert redis["healthz_red"], "the broker was down: /healthz must have said so"
    assert report.CHAOS_START in chaos.section(results)
