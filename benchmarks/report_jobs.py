"""RESULTS.md's sections 4 (order conversations) and 5 (the reminder job at scale), and what
the end-to-end runs cost: SQL statements, CPU by process kind and resident memory per
message, and the py-spy profile of one full-speed run."""

from __future__ import annotations

from benchmarks.markdown import fmt, table


def orders_section(r: dict, bench) -> str:
    o = r["orders"]
    return (
        "## 4. Order conversations\n\n"
        f"{fmt(o['customers'])} customers at once, each going through the whole order flow "
        "(greet, category, product, quantity, finish, confirm: 6 messages, "
        f"{fmt(o['replies_per_order'])} replies), each message sent as soon as the previous "
        "one's replies arrived. Step latency = message POST → its last reply.\n\n"
        + table(
            [
                "completed",
                "confirmed in DB",
                "stuck / dup (all runs)",
                "orders/min",
                "msg/s",
                "step p50 ms",
                "step p95 ms",
                "step p99 ms",
                "order p50 s",
                "load before → after",
            ],
            [
                [
                    f"{fmt(o['completed'])}/{fmt(o['customers'])}",
                    fmt(o["confirmed_in_db"]),
                    f"{o['stuck_total']} / {o['duplicated_total']}",
                    fmt(o["orders_per_min"]),
                    fmt(o["messages_per_s"], 1),
                    fmt(o["step_p50"]),
                    fmt(o["step_p95"]),
                    fmt(o["step_p99"]),
                    fmt(o["order_p50_s"], 2),
                    f"{o['load_before']} → {o['load_after']}",
                ]
            ],
        )
    )


def reminders_section(r: dict, bench) -> str:
    rem = r["reminders"]
    rows = [
        [
            fmt(s["rows"]),
            fmt(s["due"]),
            fmt(s["sent"]),
            fmt(s["task_s"] * 1000),
            fmt(s["per_due_ms"], 1),
            fmt(s["queries"]),
            fmt(s["selector_ms"], 2),
            fmt(s["uses_index"]),
            fmt(s["generate_s"], 1),
        ]
        for s in rem["sizes"]
    ]
    return (
        f"## 5. Periodic jobs at scale\n\n`{rem['task']}` run in-process against tables of "
        "appointments filled with `INSERT ... SELECT generate_series` (200 tenants' history: "
        "concluded, cancelled, no-shows, and active bookings beyond 24 h) plus the bench "
        "tenant's due appointments (a tenth also due for the 1 h reminder). Sent = reminders "
        "claimed and queued. Selector = `EXPLAIN ANALYZE` of the 24 h reminder query.\n\n"
        + table(
            [
                "appointments",
                "due",
                "sent",
                "task ms",
                "ms per due",
                "SQL queries",
                "selector ms",
                "partial index used",
                "generation s",
            ],
            rows,
        )
    )


def sql_and_memory_section(r: dict) -> str:
    e = r["e2e"]
    parts = ["## SQL per message and memory"]
    if "sql_per_message" in e:
        parts.append(
            f"\n{fmt(e['sql_per_message'], 1)} statements per processed message (all processes: "
            "webhook, processing, send, read receipt; BEGIN/COMMIT and the connection health "
            "checks `SELECT 1` included), from `pg_stat_statements` over the first end-to-end "
            f"run at {fmt(r.get('_ingest_rate', 80))} msg/s; PostgreSQL ran "
            f"{fmt(e.get('fk_checks_per_message'), 1)} foreign-key checks per message on top. "
            "The most frequent, per message:\n"
        )
        parts.append(
            table(
                ["per message", "statement"],
                [[fmt(c, 2), f"`{q.replace('|', '¦')}`"] for c, q in e.get("sql_top", [])[:15]],
            )
        )
    if "sql_per_message_max" in e:
        parts.append(
            f"\nAt full speed (the first `max` run, batches of many turns): "
            f"{fmt(e['sql_per_message_max'], 1)} statements per processed message, "
            f"{fmt(e.get('fk_checks_per_message_max'), 1)} foreign-key checks on top. The most "
            "frequent, per message:\n"
        )
        parts.append(
            table(
                ["per message", "statement"],
                [[fmt(c, 2), f"`{q.replace('|', '¦')}`"] for c, q in e.get("sql_top_max", [])[:12]],
            )
        )
    cpu_rows = []
    for level in ("80", "max"):
        cpu = (e.get(level) or {}).get("cpu_ms_per_message")
        if isinstance(cpu, dict) and cpu:
            cpu_rows.append(
                [level if level == "max" else f"{level} msg/s"]
                + [fmt(cpu.get(k), 1) for k in _CPU_PARTS]
                + [fmt(sum(cpu.values()), 1)]
            )
    if cpu_rows:
        parts.append(
            "\nWhere the CPU goes: CPU milliseconds per replied message by process kind "
            "(from /proc, last run of each level; the machine has 2 cores = 2,000 ms per second):\n"
        )
        parts.append(table(["offered", *_CPU_PARTS, "total"], cpu_rows))
    rss = e.get("rss") or {}
    if rss:
        rows = [
            [
                k.replace("_mb", "").replace("_", " "),
                fmt(v, 0, " MiB") if k.endswith("_mb") else fmt(v),
            ]
            for k, v in rss.items()
        ]
        peer_rss = r.get("peer", {}).get("rss_worker_mb")
        if peer_rss:
            rows.append(["pywa peer gunicorn worker", fmt(peer_rss, 0, " MiB")])
        floor_rss = r.get("floor", {}).get("rss_worker_mb")
        if floor_rss:
            rows.append(["floor gunicorn worker", fmt(floor_rss, 0, " MiB")])
        parts.append(
            "\nResident memory (VmRSS) after the end-to-end runs (median per process kind):\n"
        )
        parts.append(table(["process", "RSS"], rows))
    return "\n".join(parts)


_CPU_PARTS = [
    "gunicorn",
    "processor",
    "sender",
    "celery worker",
    "celery worker_send",
    "postgres",
    "redis",
    "fake graph",
    "load generator",
]


def profile_section(p: dict) -> str:
    parts = [
        "## Profile (py-spy, one `max` run)\n\nSamples taken while a thread held the GIL "
        "(`py-spy --gil`): where the Python CPU goes, not where processes wait."
    ]
    for name, summary in p.items():
        if not summary:
            continue
        parts.append(
            f"\n**{name}** ({summary['busy_samples']} samples). Project code on the stack:\n"
        )
        parts.append(
            table(
                ["% of samples", "function"],
                [[fmt(pct, 1), f"`{fn}`"] for pct, fn in summary["total_ours"][:12]],
            )
        )
        parts.append("\nLeaf functions (self time):\n")
        parts.append(
            table(
                ["% of samples", "function"],
                [[fmt(pct, 1), f"`{fn}`"] for pct, fn in summary["self"][:10]],
            )
        )
    return "\n".join(parts)
