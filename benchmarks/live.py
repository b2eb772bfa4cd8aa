"""`python -m benchmarks.live`: live clients of the staff app while webhooks flow.

    python -m benchmarks.live                 # 500 clients, 80 msg/s for 60 s (~4 min)
    python -m benchmarks.live --quick         # 20 clients, 20 msg/s for 5 s, to .work/
    python -m benchmarks.live --clients 800 --rate 80 --duration 120
    make bench-live                           # the same as the first line

The production stack as `python -m benchmarks` starts it (benchmarks.stack: PostgreSQL with
fsync, Redis, gunicorn with the uvicorn worker serving config.asgi, the Procfile's processor,
sender and Celery workers, the fake Graph API), seeded with `--tenants` businesses, each with `--queues`
queues of agents (logged in by a session row each, as a browser that logged in would be)
and `--conversations` conversations per queue with a ticket open and taken (the options,
the seed and the webhooks: benchmarks.live_seed). The clients and the webhooks' sending
are benchmarks.live_clients; the figures go to a section of benchmarks/RESULTS.md of their
own (report.LIVE_START .. LIVE_END, written by benchmarks.live_report), which the other
benchmarks keep when they rewrite the file. This module parses the options, runs the stack
and each rate, and measures the Celery side's lag.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import harness, live_clients, report, stack
from benchmarks.live_report import live_section, met
from benchmarks.live_seed import LiveOptions, seed_live, webhooks
from benchmarks.profiles import finish_profiles
from benchmarks.stack import log


def parse(argv: list[str] | None = None) -> LiveOptions:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.live", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run, to .work/")
    for name, default, kind, what in (
        ("clients", 500, int, "connected staff sockets"),
        ("rate", "80", str, "webhooks (customer messages) per second; a list runs each"),
        ("duration", 60.0, float, "seconds of webhooks"),
        ("tenants", 25, int, "businesses"),
        ("queues", 2, int, "queues per business"),
        ("conversations", 20, int, "conversations with an open ticket per queue"),
        ("grace", 30.0, float, "seconds to wait for the last events (later ones are missed)"),
        ("connect-rate", 100.0, float, "new sockets per second"),
    ):
        parser.add_argument(f"--{name}", type=kind, help=f"{what} (default {default})")
    parser.add_argument("--profile", action="store_true", help="py-spy on web and workers")
    parser.add_argument(
        "--split",
        action="store_true",
        help="webhooks on gunicorn gthread (config.wsgi), sockets on a second gunicorn "
        "with the uvicorn worker (config.asgi)",
    )
    parser.add_argument("--output", default="", help="Markdown file (default RESULTS.md)")
    args = parser.parse_args(argv)
    opts = (
        LiveOptions(clients=20, rates=(20,), duration=5, tenants=2, conversations=4, quick=True)
        if args.quick
        else LiveOptions()
    )
    for name in ("clients", "duration", "tenants", "queues", "conversations", "grace"):
        if getattr(args, name) is not None:
            setattr(opts, name, getattr(args, name))
    if args.rate:
        opts.rates = tuple(float(r) for r in args.rate.split(",") if r.strip())
    opts.profile = args.profile
    opts.split = args.split
    if args.connect_rate is not None:
        opts.connect_rate = args.connect_rate
    opts.output = args.output or str(
        stack.WORK / "RESULTS-live-quick.md" if opts.quick else report.RESULTS
    )
    return opts


# --- The run ----------------------------------------------------------------------------------


def start_profiles(bench: harness.Bench, *, seconds: int) -> list:
    """py-spy (the bench venv's) on the web and each worker, with their subprocesses."""
    spy = stack.py_spy()
    if spy is None:
        stack.bench_python()
        spy = stack.py_spy()
    out_dir = stack.WORK / "profiles-live"
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for proc in [bench.web, *bench.workers]:
        dest = out_dir / f"{proc.name}.txt"
        argv = [str(spy), "record", "--pid", str(proc.pid), "--subprocesses", "--nonblocking"]
        argv += ["--rate", "100", "--duration", str(seconds), "--format", "raw", "--gil"]
        popen = subprocess.Popen(
            [*argv, "--output", str(dest)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        spies.append((proc.name, dest, popen))
    return spies


def processing_lag(result: live_clients.LiveRun, *, tag: str) -> dict:
    """How far behind the Celery side was: for each webhook of the run, its InboundEvent's
    processing end (the message stored and published) minus the moment it was due; and
    what the bot sent meanwhile (read receipts only: every ticket is taken)."""
    from chatbots.models import InboundEvent, Message

    due = {f"wamid.LIVE.{tag}.{r.seq:07d}": r.due for r in (result.posts.results or [])}
    processed_at = {
        external_id: processed.timestamp()
        for external_id, processed in InboundEvent.objects.filter(
            external_id__startswith=f"wamid.LIVE.{tag}."
        ).values_list("external_id", "processed_at")
        if processed is not None and external_id in due
    }
    lags = [at - due[external_id] for external_id, at in processed_at.items()]
    # The live transport alone: each event's arrival at a client minus the end of its
    # processing (the publish happens as that transaction commits, a few ms later).
    by_token = {
        p.token: processed_at.get(f"wamid.LIVE.{tag}.{p.item.seq:07d}") for p in result.posted
    }
    transport = [
        arrived - by_token[token]
        for state in result.clients
        for token, arrived in state.arrivals.items()
        if by_token.get(token) is not None
    ]
    return {
        "transport_p50": live_clients._pct(transport, 50),
        "transport_p95": live_clients._pct(transport, 95),
        "transport_p99": live_clients._pct(transport, 99),
        "transport_max": max(transport) if transport else math.nan,
        "events": len(due),
        "processed": len(lags),
        "p50": live_clients._pct(lags, 50),
        "p95": live_clients._pct(lags, 95),
        "max": max(lags) if lags else math.nan,
        "replies": Message.objects.filter(
            direction=Message.Direction.OUT,
            created_at__gte=datetime.fromtimestamp(result.post_started, UTC),
        ).count(),
    }


def _raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run(opts: LiveOptions) -> dict:
    """One stack, one seed; a run per offered rate (`opts.rates`), back to back, each with
    every client connected anew."""
    files = _raise_open_files()  # the children (gunicorn) inherit it
    if files < opts.clients * 2 + 200:
        log(f"only {files} open files allowed: {opts.clients} sockets may not fit")
    bench = harness.Bench(harness.Options())
    figures: dict = {"load_start": stack.loadavg(), "opts": opts, "runs": []}
    try:
        stack.log("starting PostgreSQL, Redis, the fake Graph API; creating the schema")
        bench.setup()
        t = time.monotonic()
        clients, conversations = seed_live(opts)
        log(
            f"seeded {opts.tenants} tenants, {len(clients)} agents, {len(conversations)} "
            f"conversations in {time.monotonic() - t:.0f} s"
        )
        bench.start_workers()
        ws_proc = None
        if opts.split:
            bench.web, port = bench.stack.start_gunicorn(
                "web",
                "config.wsgi:application",
                extra_env={**bench.product_env(), "GUNICORN_WORKER_CLASS": "gthread"},
            )
            ws_proc, ws_port = bench.stack.start_gunicorn(
                "ws", "config.asgi:application", extra_env=bench.product_env()
            )
        else:
            port = ws_port = bench.start_web()
        workers = os.environ.get("WEB_CONCURRENCY") or 2
        figures["config"] = {
            "web": (
                f"webhooks: gunicorn -c gunicorn.conf.py config.wsgi:application, gthread, "
                f"{workers} workers; sockets: the same with config.asgi:application and the "
                f"uvicorn worker, {workers} workers (`--split`)"
                if opts.split
                else f"gunicorn -c gunicorn.conf.py config.asgi:application (the uvicorn "
                f"worker: webhooks and sockets), {workers} workers"
            ),
            "workers": "<br>".join(" ".join(argv[1:]) for _n, argv in harness.procfile_workers()),
        }

        def probe() -> dict[str, float]:
            snap = bench.cpu_snapshot()
            if ws_proc is not None:
                snap["gunicorn ws"] = stack.tree_cpu_seconds(ws_proc.pid)
            return {k: v for k, v in snap.items() if k != "_time"}

        for number, rate in enumerate(opts.rates, start=1):
            bench.wait_idle(timeout=180)
            tag = f"r{number}"
            posted = webhooks(conversations, tag=tag, count=int(rate * opts.duration))
            spies: list = []

            def on_posting(spies=spies) -> None:
                bench.stats_reset()
                if opts.profile:
                    spies.extend(start_profiles(bench, seconds=int(opts.duration)))

            one: dict = {"rate_offered": rate, "load_before": stack.loadavg()}
            log(f"connecting {len(clients)} clients, then {len(posted)} webhooks at {rate}/s")
            result = asyncio.run(
                live_clients.live_run(
                    ws_url=f"ws://127.0.0.1:{ws_port}/ws/atendimento/",
                    origin=f"http://127.0.0.1:{ws_port}",
                    port=port,
                    clients=clients,
                    posted=posted,
                    rate=rate,
                    time_limit=opts.duration + 5,
                    grace=opts.grace,
                    connect_rate=opts.connect_rate,
                    cpu_probe=probe,
                    on_posting=on_posting,
                )
            )
            one["profiles"] = finish_profiles(spies, seconds=int(opts.duration))
            one["load_after"] = stack.loadavg()
            one["summary"] = live_clients.summary(result)
            one["processing"] = processing_lag(result, tag=tag)
            statements = bench.statements()
            one["statements"] = {
                "total": sum(calls for calls, _q in statements),
                "top": statements[:15],
            }
            figures["runs"].append(one)
        return figures
    except Exception as exc:
        traceback.print_exc()
        figures["error"] = f"{type(exc).__name__}: {exc}"[:500]
        return figures
    finally:
        if os.environ.get("BENCH_KEEP_LOGS"):
            bench.stack.keep_logs(stack.WORK / "logs-live")
        bench.stop_workers()
        bench.stop_web()
        bench.teardown()


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    figures = run(opts)
    section = live_section(figures, started, time.monotonic() - t0)
    output = Path(opts.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    report.write_live(section, path=output)
    print(section)
    with contextlib.suppress(OSError, TypeError, ValueError):  # raw figures, for reuse
        stack.WORK.mkdir(parents=True, exist_ok=True)
        (stack.WORK / "live-results.json").write_text(json.dumps(figures, indent=1, default=str))
    log(f"wrote {output}")
    ok = "error" not in figures and all(
        met(one["summary"], clients=opts.clients, rate=one["rate_offered"])
        for one in figures.get("runs") or []
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
