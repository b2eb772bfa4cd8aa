"""`python -m benchmarks`: start the stack, run the scenarios, write benchmarks/RESULTS.md.

    python -m benchmarks                    # everything (~11 minutes on 2 cores)
    python -m benchmarks --quick            # smoke run (~2 min), to benchmarks/.work/
    python -m benchmarks --only e2e,peer    # some scenarios (floor ingest e2e peer orders reminders)
    python -m benchmarks --profile          # + py-spy profiles of one max-load run
    python -m benchmarks --only scaling --consumers 1,2,4   # the scaling curve

Run it with the project's virtualenv (`make bench` does). The first run also creates
benchmarks/.work/venv (pywa, Flask, py-spy; see benchmarks/deps.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import report, stack
from benchmarks.harness import Bench, Options
from benchmarks.scenarios import ORDER, SCENARIOS


def parse(argv: list[str] | None = None) -> tuple[Options, list[str], argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios: {', '.join(ORDER)}")
    parser.add_argument("--runs", type=int, help="runs per figure (median); default 3, quick 1")
    parser.add_argument("--duration", type=float, help="seconds per load level and run")
    parser.add_argument(
        "--loads", default="", help="offered end-to-end loads in msg/s, e.g. 20,80,200"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy during one max run")
    parser.add_argument(
        "--consumers",
        default="",
        help="processors and senders in the `scaling` scenario, e.g. 1,2,4 (the default)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=150.0,
        help="the fake Graph API's answer time in the `latency` scenario (default 150)",
    )
    parser.add_argument(
        "--no-fsync", action="store_true", help="PostgreSQL without fsync (like the tests)"
    )
    parser.add_argument(
        "--output",
        default="",
        help="where to write the results (Markdown); default benchmarks/RESULTS.md, "
        "or benchmarks/.work/RESULTS-quick.md with --quick (a smoke run never overwrites "
        "the figures)",
    )
    args = parser.parse_args(argv)
    if not args.output:
        args.output = str(stack.WORK / "RESULTS-quick.md" if args.quick else report.RESULTS)
    opts = Options.quick_mode() if args.quick else Options()
    if args.runs:
        opts.runs = args.runs
    if args.duration:
        opts.duration = args.duration
    if args.loads:
        opts.loads = tuple(float(x) if "." in x else int(x) for x in args.loads.split(","))
    opts.profile = args.profile
    if args.consumers:
        opts.consumers = tuple(int(x) for x in args.consumers.split(",") if x.strip())
    opts.latency_ms = args.latency_ms
    opts.durable = not args.no_fsync
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(ORDER)
    unknown = [s for s in only if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    return opts, [s for s in ORDER if s in only], args


def main(argv: list[str] | None = None) -> int:
    opts, selected, args = parse(argv)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    if "peer" in selected or opts.profile:
        stack.bench_python()  # before the clock matters: creating it takes a while once
    bench = Bench(opts)
    results: dict = {
        "_load_start": stack.loadavg(),
        "_errors": {},
        "_ingest_rate": opts.ingest_rate,
    }
    try:
        stack.log("starting PostgreSQL, Redis, the fake Graph API; creating the schema")
        bench.setup()
        for name in selected:
            stack.log(f"scenario {name} (load average {stack.loadavg()})")
            t = time.monotonic()
            try:
                results[name] = SCENARIOS[name](bench)
            except Exception as exc:  # one broken scenario must not lose the others' figures
                traceback.print_exc()
                results["_errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
            stack.log(f"scenario {name} done in {time.monotonic() - t:.0f} s")
        results["_load_end"] = stack.loadavg()
        text = report.render(bench, results, started, time.monotonic() - t0)
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        report.write(text, path=output)
        print(text)
        with contextlib.suppress(OSError, TypeError, ValueError):  # raw figures, for reuse
            stack.WORK.mkdir(parents=True, exist_ok=True)
            (stack.WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
        stack.log(f"wrote {args.output} in {(time.monotonic() - t0) / 60:.1f} min")
    finally:
        bench.stop_workers()
        bench.stop_web()
        bench.teardown()
    return 1 if results["_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
