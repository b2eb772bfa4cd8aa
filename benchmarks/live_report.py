"""The live benchmark's section of benchmarks/RESULTS.md (between report.LIVE_START and
LIVE_END): the target, delays per offered rate, the Celery side's and the transport's own
lag, CPU by process; and whether a run met the target."""

from __future__ import annotations

import math
import os
from datetime import datetime

from benchmarks import live_clients, markdown, report
from benchmarks.live_seed import LiveOptions


def _table(rows) -> str:
    return markdown.table(list(rows[0]), [list(r) for r in rows[1:]])


def _ms(seconds: float) -> str:
    return markdown.fmt(seconds * 1000 if seconds == seconds else seconds, 0)


def _cpu(s: dict) -> tuple[dict[str, float], float, float, float]:
    """(cores per part, machine's cores, all listed, the server's) of a run's summary."""
    cpu = dict(s.get("cpu") or {})
    machine_cores = cpu.pop("_machine", math.nan)
    own = sum(cpu.values())
    server = sum(v for k, v in cpu.items() if k not in ("load generator", "fake graph"))
    return cpu, machine_cores, own, server


def met(s: dict, *, clients: int = 500, rate: float = 80) -> bool:
    return (
        s.get("connected", 0) >= clients
        and s.get("rate", 0) >= 0.97 * rate
        and s.get("missed") == 0
        and s.get("dropped") == 0
        and s.get("within_2s", 0) >= 1.0
    )


def live_section(figures: dict, started: datetime, elapsed: float) -> str:
    """The Markdown of the live section (between report.LIVE_START and LIVE_END)."""
    opts: LiveOptions = figures["opts"]
    runs = figures.get("runs") or []
    out = [report.LIVE_START, "## 7. Live clients (the staff app's WebSockets)", ""]
    w = out.append
    rates = ",".join(f"{r:g}" for r in opts.rates)
    w(
        f"Written by `python -m benchmarks.live{' --quick' if opts.quick else ''}"
        f"{' --split' if opts.split else ''} --clients {opts.clients} --rate {rates}` on "
        f"{started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min, one run per offered rate, "
        "back to back on one stack. Staff sockets on `/ws/atendimento/` (session cookie and "
        f"Origin as a browser sends them), connected {opts.connect_rate:.0f} per second, each "
        "answered its `ping` (it has joined its groups) before the webhooks start; then signed "
        f"Meta webhooks at the offered rate for {opts.duration:g} s, open loop, each a customer "
        "message to a conversation whose ticket is open and taken, so the bot stays quiet and "
        "the message is published to the queue's agents (and to the agent who took it). "
        "Delay = the `message` event's arrival at a client minus the moment its webhook was "
        "due; every client of a queue must see every message of that queue; an event not there "
        f"{opts.grace:g} s after the last webhook is missed. The stack is the production one "
        "(benchmarks.stack: PostgreSQL with fsync, Redis, the Procfile's workers), on the same "
        "2 cores as the clients and the other helpers' work."
    )
    if opts.quick:
        w("")
        w("**Quick mode (smoke run): not figures to quote.**")
    if "error" in figures:
        w("")
        w(f"**The run failed:** `{figures['error']}`")
    w("")
    target = next((r for r in runs if r["rate_offered"] == 80), None)
    if target is not None:
        s = target["summary"]
        w(
            _table(
                [
                    ("target", "measured", "met"),
                    (
                        "≥ 500 live clients while 80 msg/s flow through the webhook, each "
                        "seeing each new message of its queue within 2 s",
                        f"{s.get('connected', 0)} of {s.get('clients', 0)} connected, "
                        f"{markdown.fmt(s.get('rate'), 1)} msg/s accepted, "
                        f"{markdown.fmt(100 * s.get('within_2s', math.nan), 2)} % of "
                        f"{markdown.fmt(s.get('expected'))} deliveries within 2 s, "
                        f"{markdown.fmt(s.get('missed'))} missed, {markdown.fmt(s.get('dropped'))} "
                        "dropped",
                        "yes" if met(s) else "**no**",
                    ),
                ]
            )
        )
        w("")
    for one in runs:
        s, p = one["summary"], one.get("processing") or {}
        cpu, machine_cores, own, server = _cpu(s)
        behind = p.get("p95", 0) > live_clients.TARGET_SECONDS
        w(
            f"- **{one['rate_offered']:g} msg/s offered:** the live transport's own delay "
            f"(processing end → event at the socket) was p95 {_ms(p.get('transport_p95', 0))} "
            f"ms over {markdown.fmt(s.get('delivered'))} deliveries to {s.get('connected')} "
            "sockets; "
            + (
                f"the Celery side fell behind (p95 {_ms(p.get('p95', 0))} ms from webhook to "
                f"processed; {markdown.fmt(p.get('processed'))} of {markdown.fmt(p.get('events'))} "
                f"processed by the end), and that backlog is the delay. The stack used "
                f"{markdown.fmt(own, 2)} cores and everything else on the machine "
                f"{markdown.fmt(machine_cores - own, 2)}: "
                f"{markdown.fmt(machine_cores, 2)} of 2 busy."
                if behind
                else f"the Celery side kept up (p95 {_ms(p.get('p95', 0))} ms)."
            )
        )
    if runs:
        w("")
    first = runs[0]["summary"] if runs else {}
    w(
        _table(
            [
                ("what", "value"),
                ("machine", f"{os.cpu_count()} cores, shared with the other helpers' work"),
                ("load average at start", figures.get("load_start", "?")),
                (
                    "shape",
                    f"{opts.tenants} tenants × {opts.queues} queues × "
                    f"{opts.agents_per_queue} agents = {opts.clients} sockets; "
                    f"{opts.conversations} open tickets a queue; each message goes to the "
                    f"{markdown.fmt(first.get('fanout'), 1)} sockets of its queue",
                ),
                ("web", (figures.get("config") or {}).get("web", "–")),
                ("Celery (Procfile)", (figures.get("config") or {}).get("workers", "–")),
            ]
        )
    )
    w("")
    w(
        "Delays over every expected delivery (webhook due → event at the client), the Celery "
        "side alone (webhook due → its event processed: the message stored and published) and "
        "the live transport alone (processing end → event at the client: channel layer, "
        "consumer, socket); `dup` = the same event twice on one socket (the agent who took the "
        "ticket is in the queue's group and in their own):"
    )
    w("")
    rows = [
        (
            "offered",
            "accepted msg/s",
            "connected / dropped",
            "deliveries",
            "p50 ms",
            "p95 ms",
            "max ms",
            "within 2 s",
            "missed",
            "dup",
            "Celery p50 / p95 ms",
            "transport p50 / p95 / max ms",
            "webhook p95 ms",
            "load before → after",
        )
    ]
    for one in runs:
        s, p = one["summary"], one.get("processing") or {}
        rows.append(
            (
                f"{one['rate_offered']:g} msg/s",
                markdown.fmt(s.get("rate"), 1),
                f"{s.get('connected')} / {s.get('dropped')}",
                markdown.fmt(s.get("expected")),
                _ms(s.get("p50", math.nan)),
                _ms(s.get("p95", math.nan)),
                _ms(s.get("max", math.nan)),
                f"{markdown.fmt(100 * s.get('within_2s', math.nan), 2)} %",
                markdown.fmt(s.get("missed")),
                markdown.fmt(s.get("duplicates")),
                f"{_ms(p.get('p50', math.nan))} / {_ms(p.get('p95', math.nan))}",
                f"{_ms(p.get('transport_p50', math.nan))} / "
                f"{_ms(p.get('transport_p95', math.nan))} / "
                f"{_ms(p.get('transport_max', math.nan))}",
                markdown.fmt(s.get("webhook_p95_ms"), 1),
                f"{one.get('load_before', '?')} → {one.get('load_after', '?')}",
            )
        )
    w(_table(rows))
    w("")
    refused = [
        f"{one['rate_offered']:g} msg/s: " + ", ".join(f"{n} {why}" for why, n in r.items())
        for one in runs
        if (r := one["summary"].get("refused") or {})
    ]
    drops = [
        f"{one['rate_offered']:g} msg/s: " + ", ".join(f"{n} {why}" for why, n in r.items())
        for one in runs
        if (r := one["summary"].get("drop_reasons") or {})
    ]
    connect = ", ".join(f"{markdown.fmt(o['summary'].get('connect_seconds'), 1)} s" for o in runs)
    w(
        f"Connecting every socket took {connect}; refused: {'; '.join(refused) or 'none'}; "
        f"dropped: {'; '.join(drops) or 'none'}. Messages the bot queued during the runs: "
        + ", ".join(markdown.fmt((o.get("processing") or {}).get("replies")) for o in runs)
        + " (every ticket is taken: the bot stays quiet; read receipts are not messages)."
    )
    w("")
    w(
        "CPU while the webhooks flowed, in cores (CPU seconds per second; 2.00 = the whole "
        "machine) and in ms per accepted message. `other load` = the machine's busy time that "
        "none of these used (the other helpers' work). The fake Graph API only answers the "
        "read receipts, one a message: its ms per message is a yardstick of how fast the host "
        "was (section 3: ~0.15 ms a request on a quiet host, ~0.35 on a busy one):"
    )
    w("")
    parts = sorted({k for one in runs for k in _cpu(one["summary"])[0]})
    rows = [("offered", *parts, "server total", "all listed", "other load")]
    for one in runs:
        s = one["summary"]
        cpu, machine_cores, own, server = _cpu(s)
        rate = s.get("rate") or math.nan
        rows.append(
            (
                f"{one['rate_offered']:g} msg/s, cores",
                *(markdown.fmt(cpu.get(p), 2) for p in parts),
                markdown.fmt(server, 2),
                markdown.fmt(own, 2),
                markdown.fmt(machine_cores - own, 2),
            )
        )
        rows.append(
            (
                "ms a message",
                *(markdown.fmt(1000 * cpu[p] / rate if p in cpu else None, 2) for p in parts),
                markdown.fmt(1000 * server / rate, 1),
                markdown.fmt(1000 * own / rate, 1),
                "",
            )
        )
    w(_table(rows))
    w(report.LIVE_END)
    return "\n".join(out)
