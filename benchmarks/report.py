"""Turn the scenarios' figures into benchmarks/RESULTS.md (and print the same text): the
machine and configuration, then each scenario's section (report_targets: the targets and
what bounds them; report_ingest: 1 and 2; report_e2e: 3, 3b, 3c and 6; report_jobs: 4, 5,
SQL, CPU, memory and the profile), and the sections other benchmarks write on their own,
which a full run keeps."""

from __future__ import annotations

import os
import platform
import runpy
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path

from benchmarks import report_e2e, report_ingest, report_jobs, report_targets, stack
from benchmarks.markdown import table
from benchmarks.stack import ROOT

RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "–"


def _bench_version(dist: str) -> str:
    py = stack.BENCH_VENV / "bin" / "python"
    if not py.exists():
        return "–"
    out = subprocess.run(
        [str(py), "-c", f"from importlib import metadata; print(metadata.version({dist!r}))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "–"


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release()}


def gunicorn_config() -> dict:
    env_backup = dict(os.environ)
    try:
        for name in (
            "WEB_CONCURRENCY",
            "WEB_THREADS",
            "GUNICORN_MAX_REQUESTS",
            "GUNICORN_KEEPALIVE",
        ):
            os.environ.pop(name, None)
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    return {
        k: conf.get(k)
        for k in ("worker_class", "workers", "threads", "keepalive", "max_requests", "timeout")
    }


def render(bench, results: dict, started: datetime, elapsed: float) -> str:
    from benchmarks.harness import procfile_workers

    m = machine()
    g = gunicorn_config()
    pg_version = bench.stack.psql("SHOW server_version") if bench.stack.pg_port else "–"
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True
    ).stdout.split()[2:3]
    out: list[str] = []
    w = out.append
    w("# Benchmark results")
    w("")
    w(
        f"Written by `python -m benchmarks{' --quick' if bench.opts.quick else ''}` on "
        f"{started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min. Every figure is the median of "
        f"{bench.opts.runs} run(s) unless it says otherwise. How to read and rerun: the "
        '"Benchmarks" section of the README.'
    )
    if bench.opts.quick:
        w("")
        w("**Quick mode (smoke run): short runs, small tables. Not figures to quote.**")
    w("")
    w("## Machine and configuration")
    w("")
    w(
        table(
            ["what", "value"],
            [
                ["machine", f"{m['cores']} cores ({m['cpu']}), {m['memory']}, Linux {m['kernel']}"],
                [
                    "shared by",
                    "PostgreSQL, Redis, gunicorn, Celery, the fake Graph API and the load generator",
                ],
                [
                    "load average at start / end",
                    f"{results.get('_load_start', '?')} / {results.get('_load_end', '?')}",
                ],
                ["Python", platform.python_version()],
                [
                    "Django / gunicorn / Celery",
                    f"{_version('django')} / {_version('gunicorn')} / {_version('celery')}",
                ],
                ["psycopg / redis-py", f"{_version('psycopg')} / {_version('redis')}"],
                [
                    "PostgreSQL / Redis",
                    f"{pg_version} / {''.join(redis_version).replace('v=', '')}",
                ],
                ["peer", f"pywa {_bench_version('pywa')} on Flask {_bench_version('flask')}"],
                [
                    "gunicorn (gunicorn.conf.py defaults)",
                    f"{g['worker_class']}, {g['workers']} workers x {g['threads']} threads, "
                    f"keepalive {g['keepalive']} s, max_requests {g['max_requests']} "
                    f"(the benchmark runs with {stack.BENCH_GUNICORN_ENV['GUNICORN_MAX_REQUESTS']}"
                    ": see the notes)",
                ],
                [
                    "Celery (Procfile)",
                    "<br>".join(" ".join(argv[1:]) for _n, argv in procfile_workers()),
                ],
                [
                    "PostgreSQL durability",
                    "fsync + synchronous_commit on (production)"
                    if bench.opts.durable
                    else "fsync off (like the test command): figures flattered",
                ],
                ["schema", bench.seeded.schema if bench.seeded else "–"],
            ],
        )
    )
    w("")
    w(report_targets.targets_section(results))
    for name, render_fn in (
        ("floor", report_ingest.floor_section),
        ("ingest", report_ingest.ingest_section),
        ("e2e", report_e2e.e2e_section),
        ("peer", report_e2e.peer_section),
        ("scaling", report_e2e.scaling_section),
        ("latency", report_e2e.latency_section),
        ("orders", report_jobs.orders_section),
        ("reminders", report_jobs.reminders_section),
    ):
        if name in results:
            w("")
            w(render_fn(results, bench))
    if "e2e" in results:
        w("")
        w(report_jobs.sql_and_memory_section(results))
        if results["e2e"].get("profile"):
            w("")
            w(report_jobs.profile_section(results["e2e"]["profile"]))
    errors = results.get("_errors") or {}
    if errors or bench.notes:
        w("")
        w("## Notes from this run")
        w("")
        for name, err in errors.items():
            w(f"- scenario **{name}** failed: `{err}`")
        for note in bench.notes:
            w(f"- {note}")
    w("")
    return "\n".join(out)


# The live benchmark's section (python -m benchmarks.live) is written on its own; a full run
# of `python -m benchmarks` keeps it, and the live run keeps the rest of the file.
LIVE_START = "<!-- live: written by python -m benchmarks.live -->"
LIVE_END = "<!-- /live -->"


# The segments benchmark's section (python -m benchmarks.insights), kept the same way.
INSIGHTS_START = "<!-- insights: written by python -m benchmarks.insights -->"
INSIGHTS_END = "<!-- /insights -->"
# The fault suite's section (python -m benchmarks.chaos), kept the same way.
CHAOS_START = "<!-- chaos: written by python -m benchmarks.chaos -->"
CHAOS_END = "<!-- /chaos -->"
KEPT_SECTIONS = (
    (LIVE_START, LIVE_END),
    (INSIGHTS_START, INSIGHTS_END),
    (CHAOS_START, CHAOS_END),
)


def _part(text: str, start_mark: str = LIVE_START, end_mark: str = LIVE_END) -> str:
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        return ""
    return text[start : end + len(end_mark)]


def _live_part(text: str) -> str:
    return _part(text)


def write(text: str, path: Path = RESULTS) -> None:
    old = path.read_text() if path.exists() else ""
    for start, end in KEPT_SECTIONS:
        kept = _part(old, start, end)
        if kept and start not in text:
            text = text.rstrip("\n") + "\n\n" + kept + "\n"
    path.write_text(text)


def write_section(section: str, *, start: str, end: str, path: Path = RESULTS) -> None:
    """Put a section (start .. end) in `path`: in place of the one there, else at the end;
    the rest of the file is kept as it is."""
    old = path.read_text() if path.exists() else ""
    section = section.strip("\n")
    if not section.startswith(start):
        section = f"{start}\n{section}\n{end}"
    kept = _part(old, start, end)
    if kept:
        new = old.replace(kept, section)
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "") + section + "\n"
    path.write_text(new)


def write_live(section: str, path: Path = RESULTS) -> None:
    """The live section (LIVE_START .. LIVE_END), as write_section puts it."""
    write_section(section, start=LIVE_START, end=LIVE_END, path=path)
