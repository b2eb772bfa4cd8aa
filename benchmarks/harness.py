"""The harness every benchmark runs on: its options, the stack it starts (PostgreSQL, Redis,
the fake Graph API, gunicorn, the Procfile's workers) and what it reads back from it
(the fake Graph's sends, pending work, CPU per process, pg_stat_statements), plus the
medians every figure is.

Used by the scenarios (benchmarks/scenarios/), the live benchmark (benchmarks/live.py) and
the fault suite (benchmarks/chaos.py).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import load, seed, stack
from benchmarks.stack import ROOT, Stack


@dataclass
class Options:
    quick: bool = False
    runs: int = 3
    duration: float = 10.0  # seconds per load level and run
    loads: tuple[float, ...] = (20, 80, 200)
    max_messages: int = 1500  # the "max" end-to-end level: this many, as fast as accepted
    concurrency: int = 16  # closed-loop connections (2x gunicorn's 2 x 4 threads)
    ingest_rate: float = 80
    order_customers: int = 40
    reminder_sizes: tuple[int, ...] = (100_000, 1_000_000)
    reminder_due: int = 50
    profile: bool = False
    durable: bool = True
    graph_latency_ms: float = 0.0  # how long the fake Graph API takes to answer
    latency_loads: tuple[float, ...] = (80,)  # offered loads of the "latency" scenario
    latency_ms: float = 150.0  # the Graph API's answer time in the "latency" scenario
    consumers: tuple[int, ...] = (1, 2, 4)  # processors and senders in the "scaling" scenario

    @classmethod
    def quick_mode(cls) -> Options:
        return cls(
            quick=True,
            runs=1,
            duration=3.0,
            max_messages=300,
            order_customers=8,
            reminder_sizes=(10_000, 50_000),
            reminder_due=10,
        )


def median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def median_dicts(runs: list[dict]) -> dict:
    """Per key: the median of the runs' numbers (other values from the last run)."""
    out: dict = {}
    for key in runs[-1]:
        vals = [r.get(key) for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            out[key] = median(vals)
        else:
            out[key] = vals[-1]
    out["runs"] = len(runs)
    return out


# --- The harness ---------------------------------------------------------------------------------


@dataclass
class Bench:
    opts: Options
    stack: Stack = field(default_factory=Stack)
    seeded: seed.Seeded | None = None
    graph: stack.Proc | None = None
    graph_port: int = 0
    web: stack.Proc | None = None
    web_port: int = 0
    workers: list[stack.Proc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    consumers: int = 1  # processors and senders running (start_workers)
    _run_no: int = 0

    # --- lifecycle -------------------------------------------------------------------------
    def setup(self) -> None:
        self.stack.durable = self.opts.durable
        self.stack.start_servers()
        self.stack.activate_here()
        schema = seed.schema_create()
        self.seeded = seed.seed()
        self.seeded.schema = schema
        self.graph = self.stack.spawn(
            "fakegraph",
            [str(stack.MAIN_VENV / "bin" / "python"), "-m", "benchmarks.fakegraph", "--port", "0"]
            + ["--latency-ms", str(self.opts.graph_latency_ms)],
            self.stack.env(),
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not self.graph_port:
            found = re.search(r"READY (\d+)", self.graph.log_path.read_text())
            if found:
                self.graph_port = int(found[1])
            elif not self.graph.alive():
                raise RuntimeError(f"fake graph exited:\n{self.graph.tail()}")
            time.sleep(0.05)
        if not self.graph_port:
            raise RuntimeError("fake graph did not start")
        os.environ["WHATSAPP_GRAPH_API_URL"] = self.graph_url  # for this process's sends too
        from django.conf import settings

        settings.WHATSAPP_GRAPH_API_URL = self.graph_url

    def teardown(self) -> None:
        if os.environ.get("BENCH_KEEP_LOGS"):
            self.stack.keep_logs(stack.WORK / "logs")
        self.stack.stop()

    @property
    def graph_url(self) -> str:
        return f"http://127.0.0.1:{self.graph_port}"

    def product_env(self) -> dict[str, str]:
        return {"WHATSAPP_GRAPH_API_URL": self.graph_url}

    def start_web(self) -> int:
        if self.web is None or not self.web.alive():
            self.web, self.web_port = self.stack.start_gunicorn(
                "web", "config.asgi:application", extra_env=self.product_env()
            )
        return self.web_port

    def stop_web(self) -> None:
        if self.web is not None:
            self.stack.stop_proc(self.web)
            self.web = None

    def start_workers(self, consumers: int = 1) -> None:
        """The Procfile's workers, with `consumers` processors and senders (the scaling
        curve); running ones are kept when their number is right."""
        if self.workers and all(w.alive() for w in self.workers) and self.consumers == consumers:
            return
        self.stop_workers()
        self.consumers = consumers
        for name, argv in procfile_workers():
            copies = consumers if name in ("processor", "sender") else 1
            for n in range(copies):
                label = name if n == 0 else f"{name}#{n + 1}"
                self.workers.append(self.stack.spawn(label, argv, self._worker_env()))
        for proc in self.workers:
            _wait_ready(proc)

    def _worker_env(self) -> dict[str, str]:
        env = self.stack.env(**self.product_env())
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # like start_services.sh: web only
        return env

    def stop_workers(self) -> None:
        for proc in self.workers:
            self.stack.stop_proc(proc)
        self.workers = []

    # --- fake Graph ----------------------------------------------------------------------------
    def graph_stats(self, since: int = 0) -> dict:
        return stack.http_json(f"{self.graph_url}/__bench/stats?since={since}")

    def graph_reset(self) -> None:
        stack.http_json(f"{self.graph_url}/__bench/reset", {})

    def graph_latency(self, ms: float) -> None:
        stack.http_json(f"{self.graph_url}/__bench/latency?ms={ms}", {})

    def run_tag(self, name: str) -> str:
        self._run_no += 1
        return f"{name}{self._run_no:03d}"

    # --- database helpers ---------------------------------------------------------------------
    def pending_work(self) -> int:
        from chatbots.models import InboundEvent, Message

        events = InboundEvent.objects.filter(
            state__in=[InboundEvent.State.PENDING, InboundEvent.State.PROCESSING]
        ).count()
        queued = Message.objects.filter(
            direction=Message.Direction.OUT,
            status__in=[Message.Status.QUEUED, Message.Status.SENDING],
        ).count()
        return events + queued

    def wait_idle(self, timeout: float = 60.0) -> None:
        from django.db import DatabaseError, connection

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.pending_work() == 0:
                    return
            except DatabaseError:  # PostgreSQL restarting (benchmarks/chaos.py): try again
                connection.close()  # the next query opens a new connection
            time.sleep(0.5)
        self.notes.append(f"system not idle after {timeout:.0f} s before a run")

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each part of the stack (live processes)."""
        parts = list(dict(self.stack.server_pids()).items())
        if self.web is not None:
            parts.append(("gunicorn", self.web.pid))
        for proc in self.workers:
            base = proc.name.split("#")[0]  # processor#2: the second consumer, same part
            consumer = base in ("processor", "sender")  # manage.py run_<name>
            parts.append((base if consumer else f"celery {base}", proc.pid))
        for proc in self.stack.procs:
            if proc.name in ("peer", "floor"):
                parts.append((f"gunicorn {proc.name}", proc.pid))
        if self.graph is not None:
            parts.append(("fake graph", self.graph.pid))
        snap: dict[str, float] = defaultdict(float)
        for name, pid in parts:
            snap[name] += stack.tree_cpu_seconds(pid)
        snap = dict(snap)
        snap["load generator"] = stack.cpu_seconds(os.getpid())
        snap["_machine"] = stack.machine_busy_seconds()
        snap["_time"] = time.time()
        return snap

    def stats_reset(self) -> None:
        self.stack.psql("SELECT pg_stat_statements_reset()")

    def statements(self) -> list[tuple[int, str]]:
        """(calls, query) from pg_stat_statements since the last reset, harness's own excluded."""
        out = self.stack.psql(
            "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC"
        )
        rows = []
        for line in out.splitlines():
            calls, _, query = line.partition("|")
            if calls.strip().isdigit():
                rows.append((int(calls), query))
        return rows


def procfile_workers() -> list[tuple[str, list[str]]]:
    """The Procfile's `processor`, `sender` and `worker` line(s), as argv lists
    (${VAR:-default} resolved the way the shell would; celery and python from the project's
    venv). BENCH_SLOW_WORKER=1 adds `worker_slow`. BENCH_PROCFILE=path reads another
    Procfile (to try a configuration before shipping it). Each logs a READY_MARKERS line when up."""
    slow = bool(os.environ.get("BENCH_SLOW_WORKER"))
    procfile = Path(os.environ.get("BENCH_PROCFILE") or ROOT / "Procfile")
    out = []
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        name = name.strip()
        consumer = name in ("processor", "sender")
        if not (consumer or name.startswith("worker")) or (name == "worker_slow" and not slow):
            continue

        def resolve(match: re.Match) -> str:
            return os.environ.get(match[1]) or match[2]

        command = re.sub(r"\$\{(\w+):-([^}]*)\}", resolve, command.strip())
        argv = shlex.split(command)
        if argv[0] in ("celery", "python"):
            argv[0] = str(stack.MAIN_VENV / "bin" / argv[0])
        out.append((name, argv))
    if not out:
        raise RuntimeError("no `worker:` line in the Procfile")
    return out


# What each Procfile process logs once it takes work: Celery's banner line, our consumers' own.
READY_MARKERS = ("ready.", '"processor started"', '"sender started"')


def _wait_ready(proc: stack.Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        text = proc.log_path.read_text(errors="replace")
        if any(marker in text for marker in READY_MARKERS):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s:\n{proc.tail()}")


def machine_load() -> str:
    return stack.loadavg()


def warmup(port: int, items: list[load.Item]) -> None:
    load.run_load(port=port, items=items, concurrency=8, time_limit=10)
