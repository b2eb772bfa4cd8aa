"""The outbox's tasks live in chatbots.outbox.tasks under their first names, and a worker
started from config.celery knows them, as it knows every task the beat schedule names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chatbots.outbox import tasks

BASE_DIR = Path(__file__).resolve().parents[2]

# What a worker does at start (Celery's loader.init_worker): import the default modules,
# that is the apps' `tasks` modules and the `imports` of config.celery. A fresh process, so
# nothing the test run imported earlier can stand in for them.
PROBE = """
import json, django
django.setup()
from config.celery import app
from config.schedule import SCHEDULE
app.loader.import_default_modules()
names = {entry["task"] for entry in SCHEDULE.values()}
names |= {name for name in app.conf.task_routes if "*" not in name}
print(json.dumps({name: app.tasks[name].__module__ if name in app.tasks else None for name in names}))
"""


def test_the_outbox_tasks_keep_their_names():
    assert tasks.send_outbound.name == "chatbots.tasks.send_outbound"
    assert tasks.sweep_outbound.name == "chatbots.tasks.sweep_outbound"
    assert tasks.mark_read.name == "chatbots.tasks.mark_read"


def test_a_worker_knows_every_scheduled_and_routed_task():
    child = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    modules = json.loads(child.stdout.strip().splitlines()[-1])
    assert {name for name, module in modules.items() if module is None} == set()
    assert modules["chatbots.tasks.sweep_outbound"] == "chatbots.outbox.tasks"
    assert modules["chatbots.tasks.send_outbound"] == "chatbots.outbox.tasks"
    assert modules["chatbots.tasks.mark_read"] == "chatbots.outbox.tasks"
