"""Each pytest-xdist worker of the whole suite (run_tests.sh) gets its own Redis server and
DATA_DIR, before Django reads its settings.

Loaded with `-p tests.xdist_env` (pyproject addopts), so this runs while pytest parses its
arguments: pytest-django configures Django after that (pytest_load_initial_conftests), and
pytest-xdist has set PYTEST_XDIST_WORKER by then. Tests that start a subprocess pass the
environment on, so the subprocess uses the same servers. Without xdist this does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path


def _isolate() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    servers = os.environ.get("TEST_WORKER_REDIS", "").split()
    if not worker.startswith("gw") or not servers:
        return
    index = int(worker[2:])
    os.environ["REDIS_URL"] = f"redis://{servers[index % len(servers)]}/0"
    if os.environ.get("DATA_DIR"):
        data = Path(os.environ["DATA_DIR"]) / worker
        data.mkdir(parents=True, exist_ok=True)
        os.environ["DATA_DIR"] = str(data)


_isolate()
