"""3. e2e: webhook POST -> reply at the fake Graph API through the menu flow, at offered
loads and at full speed, replies matched to messages (lost, duplicated, wrong), with
where a reply's time goes leg by leg and the SQL per message; 3b. latency: ours and the
peer while the Graph API answers as slowly as Meta's; 3c. scaling: the same levels with
1, 2, 4 processors and senders; 6. peer: the same menu bot written with pywa; and the
py-spy profile of one full-speed run (--profile)."""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass

from benchmarks import load, seed, stack
from benchmarks.harness import Bench, machine_load, median_dicts, warmup
from benchmarks.menu import expected_kind, key_of, menu_conversations, sender_for
from benchmarks.profiles import finish_profiles
from benchmarks.scenarios.accounting import gunicorn_worker_rss, other_cores, process_memory
from benchmarks.stack import log


@dataclass
class E2ETarget:
    name: str
    port: int
    pnid: str
    secret: str


def drain(
    b: Bench, since: int, expected: int, started: float, limit: float, *, quiet: float = 10
) -> list[list]:
    """Collect the fake Graph's sends from index `since` until `expected` arrived, nothing
    new came for `quiet` seconds, or `limit` seconds passed since `started`."""
    sends: list[list] = []
    last_progress = time.time()
    while True:
        stats = b.graph_stats(since + len(sends))
        if stats["sends"]:
            sends.extend(stats["sends"])
            last_progress = time.time()
        now = time.time()
        if len(sends) >= expected:
            time.sleep(0.5)  # late duplicates would show up now
            sends.extend(b.graph_stats(since + len(sends))["sends"])
            return sends
        if now - last_progress > quiet or now - started > limit:
            return sends
        time.sleep(0.1)


def match_replies(
    run: load.Run, sends: list[list], pnid: str, *, by_acceptance: bool = False
) -> dict:
    """Pair each answered message with its reply (same customer, same position) and count
    lost, duplicated and wrong replies. Positions follow the messages' order (seq), or with
    `by_acceptance` the order of their 200s (a webhook Meta retried comes in late)."""
    by_key: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for t, digits, to_pnid, kind, _text in sends:
        if to_pnid == pnid:
            by_key[key_of(digits)].append((t, kind))
    for replies in by_key.values():
        replies.sort()
    wanted: dict[str, list[load.Result]] = defaultdict(list)
    for r in run.results:
        if r.status == 200:
            wanted[r.key].append(r)
    latencies, lost, wrong, first_due, last_reply = [], 0, 0, math.inf, 0.0
    matched = reordered = 0
    for key, results in wanted.items():
        results.sort(key=(lambda r: (r.done, r.seq)) if by_acceptance else (lambda r: r.seq))
        replies = by_key.get(key, [])
        # A customer whose webhooks the retries delivered out of their order ("1" accepted
        # before "oi"): the bot answers them in the order it got them, and what each answer
        # should be is not the script's, so only their count is checked.
        scrambled = by_acceptance and [r.seq for r in results] != sorted(r.seq for r in results)
        reordered += scrambled
        for pos, res in enumerate(results):
            first_due = min(first_due, res.due)
            if pos >= len(replies):
                lost += 1
                continue
            t, kind = replies[pos]
            matched += 1
            last_reply = max(last_reply, t)
            latencies.append((t - res.due) * 1000)
            if not scrambled and kind != expected_kind(res.seq):
                wrong += 1
    duplicated = sum(max(0, len(by_key.get(k, [])) - len(v)) for k, v in wanted.items()) + sum(
        len(v) for k, v in by_key.items() if k not in wanted
    )
    span = max(last_reply - first_due, 1e-9) if matched else math.nan
    return {
        "messages": sum(len(v) for v in wanted.values()),
        "replied": matched,
        "lost": lost,
        "duplicated": duplicated,
        "wrong": wrong,
        "reordered_customers": reordered,
        "sustained": matched / span if matched else 0.0,
        "e2e_p50": load.percentile(latencies, 50),
        "e2e_p95": load.percentile(latencies, 95),
        "e2e_p99": load.percentile(latencies, 99),
    }


def e2e_level(b: Bench, target: E2ETarget, level: float | str, *, tag: str) -> dict:
    """One run at one offered load (msg/s) or "max"."""
    if level == "max":
        count = b.opts.max_messages
        items = menu_conversations(target.pnid, target.secret, tag=tag, count=count)
    else:
        count = int(level * b.opts.duration)
        items = menu_conversations(target.pnid, target.secret, tag=tag, count=count)
    since = b.graph_stats(10**9)["total"]
    reads_before = b.graph_stats(10**9)["reads"]
    before = machine_load()
    cpu_before = b.cpu_snapshot()
    started = time.time()
    if level == "max":
        run = load.run_load(
            port=target.port, items=items, concurrency=b.opts.concurrency, time_limit=60
        )
    else:
        run = load.run_load(
            port=target.port, items=items, rate=level, time_limit=b.opts.duration + 1
        )
    sends = drain(b, since, len(run.ok), started, limit=b.opts.duration + 90)
    cpu_after = b.cpu_snapshot()
    figures = {
        "overtaken": overtaken(tag) if target.name == "ours" else None,
        "stages": stages(run, sends, target.pnid, tag, count) if target.name == "ours" else None,
        "offered": level,
        **{f"webhook_{k}": v for k, v in load.summary(run).items()},
        **match_replies(run, sends, target.pnid),
        "reads": b.graph_stats(10**9)["reads"] - reads_before,
        "cpu_ms_per_message": {
            name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(len(run.ok), 1)
            for name in cpu_after
            if not name.startswith("_")
        },
        "other_cores": other_cores(cpu_before, cpu_after),
        # Fixed work per message (benchmarks/fakegraph.py): how fast the host was.
        "yardstick_ms": (cpu_after.get("fake graph", 0.0) - cpu_before.get("fake graph", 0.0))
        * 1000
        / max(len(run.ok), 1),
        "load_before": before,
        "load_after": machine_load(),
    }
    return figures


def stages(run: load.Run, sends: list[list], pnid: str, tag: str, count: int) -> dict:
    """Where a reply's time goes (p50/p95 ms of each leg), from the rows' own timestamps:
    webhook due → event stored (`received_at`, the web's queueing and work), stored → its
    batch done (`processed_at`: the processor's wake-up, waiting for the batch ahead, the
    turn), batch done → the reply at the fake Graph API (commit, the sender's nudge, claim
    and HTTP call)."""
    from chatbots.models import InboundEvent

    rows = InboundEvent.objects.filter(external_id__startswith=f"wamid.BENCH.{tag}.").values_list(
        "external_id", "received_at", "processed_at"
    )
    customers, tag_no = max(1, math.ceil(count / 4)), int(tag[-3:])  # as menu_conversations
    stored = {}
    for ext, received, processed in rows:
        seq, c = divmod(int(ext.rsplit(".", 1)[1]), customers)
        stored[(key_of(sender_for(tag_no, c)), seq)] = (received, processed)
    replies: dict[str, list[float]] = defaultdict(list)
    for t, digits, to_pnid, _kind, _text in sends:
        if to_pnid == pnid:
            replies[key_of(digits)].append(t)
    for times in replies.values():
        times.sort()
    legs: dict[str, list[float]] = defaultdict(list)
    by_key: dict[str, list[load.Result]] = defaultdict(list)
    for r in run.results:
        if r.status == 200:
            by_key[r.key].append(r)
    for key, results in by_key.items():
        results.sort(key=lambda r: r.seq)
        for pos, r in enumerate(results):
            row = stored.get((key, r.seq))
            if row is None or row[1] is None or pos >= len(replies.get(key, ())):
                continue
            received, processed = row[0].timestamp(), row[1].timestamp()
            legs["stored"].append((received - r.due) * 1000)
            legs["processed"].append((processed - received) * 1000)
            legs["sent"].append((replies[key][pos] - processed) * 1000)
    return {
        f"{leg}_{q}": load.percentile(values, q) for leg, values in legs.items() for q in (50, 95)
    }


def overtaken(tag: str) -> int:
    """Messages of the run stored after a later message of the same customer (their
    webhooks overtook one another on the way in: a starved web, the load generator's
    connections): the engine orders what it has stored, so such a pair can be answered in
    the stored order, a `wrong` reply that is not the consumers' doing."""
    from chatbots.models import InboundEvent

    rows = (
        InboundEvent.objects.filter(external_id__startswith=f"wamid.BENCH.{tag}.")
        .order_by("contact_key", "received_at", "id")
        .values_list("contact_key", "occurred_at")
    )
    count, last = 0, {}
    for key, occurred in rows:
        if key in last and occurred < last[key]:
            count += 1
        last[key] = max(occurred, last.get(key, occurred))
    return count


def e2e_levels(
    b: Bench, target: E2ETarget, *, count_queries: bool = False, include_max: bool = True
) -> dict:
    levels: list[float | str] = [*b.opts.loads, *(["max"] if include_max else [])]
    out = {}
    for level in levels:
        runs = []
        for i in range(b.opts.runs):
            if target.name == "ours":
                b.wait_idle()
            measure_sql = count_queries and level in (b.opts.ingest_rate, "max") and i == 0
            if measure_sql:
                b.stats_reset()
            figures = e2e_level(b, target, level, tag=b.run_tag(target.name[:4]))
            if measure_sql:
                rows = b.statements()
                n = max(figures["messages"], 1)
                # PostgreSQL's own foreign-key checks show up as "... FOR KEY SHARE OF x".
                ours = [(c, q) for c, q in rows if "FOR KEY SHARE OF x" not in q]
                figures["sql_per_message"] = sum(c for c, _q in ours) / n
                suffix = "_max" if level == "max" else ""  # full speed: the figure
                out[f"sql_top{suffix}"] = [(c / n, q[:160]) for c, q in ours[:25]]
                out[f"sql_per_message{suffix}"] = figures["sql_per_message"]
                out[f"fk_checks_per_message{suffix}"] = (
                    sum(c for c, _q in rows) / n - figures["sql_per_message"]
                )
            runs.append(figures)
            log(
                f"{target.name} @ {level}: sustained {figures['sustained']:.1f}/s, "
                f"p95 {figures['e2e_p95']:.0f} ms, lost {figures['lost']}, "
                f"dup {figures['duplicated']}, wrong {figures['wrong']}"
                + (f", stages {figures['stages']}" if figures.get("stages") else "")
            )
        key = str(level)
        out[key] = median_dicts(runs)
        out[key]["lost_total"] = sum(r["lost"] for r in runs)
        out[key]["duplicated_total"] = sum(r["duplicated"] for r in runs)
        out[key]["wrong_total"] = sum(r["wrong"] for r in runs)
        if target.name == "ours":
            out[key]["overtaken_total"] = sum(r.get("overtaken") or 0 for r in runs)
    return out


def scenario_e2e(b: Bench) -> dict:
    port = b.start_web()
    b.start_workers()
    target = E2ETarget("ours", port, b.seeded.menu_pnid, b.seeded.app_secret)
    warm = menu_conversations(target.pnid, target.secret, tag=b.run_tag("warm"), count=200)
    warmup(port, warm)
    b.wait_idle()
    profiles = None
    out = e2e_levels(b, target, count_queries=True)
    if b.opts.profile:
        profiles = profile_run(b, target)
    out["rss"] = process_memory(b)
    if profiles:
        out["profile"] = profiles
    return out


def start_peer(b: Bench) -> tuple[stack.Proc, E2ETarget]:
    proc, port = b.stack.start_gunicorn(
        "peer",
        "benchmarks.peer_pywa:app",
        python=stack.bench_python(),
        extra_env={
            **b.product_env(),
            "GUNICORN_WORKER_CLASS": "gthread",  # a plain WSGI app
            "PEER_PHONE_NUMBER_ID": b.seeded.peer_pnid,
            "PEER_APP_SECRET": b.seeded.app_secret,
            "PEER_ACCESS_TOKEN": seed.ACCESS_TOKEN,
        },
    )
    target = E2ETarget("peer", port, b.seeded.peer_pnid, b.seeded.app_secret)
    warm = menu_conversations(target.pnid, target.secret, tag=b.run_tag("warm"), count=200)
    warmup(port, warm)
    return proc, target


def scenario_peer(b: Bench) -> dict:
    proc, target = start_peer(b)
    try:
        out = e2e_levels(b, target)
        out["rss_worker_mb"] = gunicorn_worker_rss(proc)
        return out
    finally:
        b.stack.stop_proc(proc)


def scenario_latency(b: Bench) -> dict:
    """Ours and the peer at the same offered load while the Graph API takes as long to
    answer as Meta does (`graph_latency_ms`, 150 ms by default): who blocks on the call."""
    ms = b.opts.latency_ms
    levels = b.opts.latency_loads
    out: dict = {"latency_ms": ms, "levels": [str(x) for x in levels]}
    port = b.start_web()
    b.start_workers()
    ours = E2ETarget("ours", port, b.seeded.menu_pnid, b.seeded.app_secret)
    saved = b.opts.loads
    b.graph_latency(ms)
    try:
        b.opts.loads = levels
        out["ours"] = e2e_levels(b, ours, include_max=False)
        b.stop_workers()
        b.stop_web()
        proc, peer = start_peer(b)
        try:
            out["peer"] = e2e_levels(b, peer, include_max=False)
        finally:
            b.stack.stop_proc(proc)
    finally:
        b.opts.loads = saved
        b.graph_latency(b.opts.graph_latency_ms)
    return out


def profile_run(b: Bench, target: E2ETarget) -> dict:
    """py-spy on gunicorn and the Celery worker(s) during one "max" run; the top frames."""
    spy = stack.py_spy()
    if spy is None:
        stack.bench_python()
        spy = stack.py_spy()
    out_dir = stack.WORK / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds = max(int(b.opts.duration), 5)
    spies = []
    for proc in [b.web, *b.workers]:
        dest = out_dir / f"{proc.name}.txt"
        spies.append(
            (
                proc.name,
                dest,
                subprocess.Popen(
                    [str(spy), "record", "--pid", str(proc.pid), "--subprocesses", "--nonblocking"]
                    + ["--rate", "200", "--duration", str(seconds), "--format", "raw"]
                    + ([] if os.environ.get("BENCH_PROFILE_WALL") else ["--gil"])
                    + ["--output", str(dest)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    time.sleep(0.5)
    # BENCH_PROFILE_RATE=20: profile a run at that offered rate (where the per-batch costs
    # show) instead of full speed.
    rate = os.environ.get("BENCH_PROFILE_RATE")
    e2e_level(b, target, float(rate) if rate else "max", tag=b.run_tag("prof"))
    return finish_profiles(spies, seconds=seconds)


def scenario_scaling(b: Bench) -> dict:
    """The scaling curve: full speed and 80 msg/s with 1, 2, 4 … processors and senders
    (Options.consumers) on this machine, one web."""
    port = b.start_web()
    out: dict = {}
    try:
        for n in b.opts.consumers:
            b.start_workers(consumers=n)
            target = E2ETarget("ours", port, b.seeded.menu_pnid, b.seeded.app_secret)
            warm = menu_conversations(target.pnid, target.secret, tag=b.run_tag("warm"), count=100)
            warmup(port, warm)
            b.wait_idle()
            levels = {}
            for level in (b.opts.ingest_rate, "max"):
                runs = []
                for _i in range(b.opts.runs):
                    b.wait_idle()
                    figures = e2e_level(b, target, level, tag=b.run_tag("scal"))
                    runs.append(figures)
                    log(
                        f"{n} consumer(s) @ {level}: sustained {figures['sustained']:.1f}/s, "
                        f"p95 {figures['e2e_p95']:.0f} ms, lost {figures['lost']}, "
                        f"dup {figures['duplicated']}, wrong {figures['wrong']}"
                    )
                levels[str(level)] = median_dicts(runs)
                levels[str(level)]["lost_total"] = sum(r["lost"] for r in runs)
                levels[str(level)]["duplicated_total"] = sum(r["duplicated"] for r in runs)
                levels[str(level)]["wrong_total"] = sum(r["wrong"] for r in runs)
                levels[str(level)]["overtaken_total"] = sum(r.get("overtaken") or 0 for r in runs)
            out[str(n)] = levels
    finally:
        b.start_workers(consumers=1)  # as the other scenarios expect
    return out
