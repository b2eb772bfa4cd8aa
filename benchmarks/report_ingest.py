"""RESULTS.md's sections 1 (the framework floor) and 2 (webhook ingest: req/s, latency, the
stored rows against the 200s, CPU per request by process, the webhook's own steps)."""

from __future__ import annotations

from benchmarks.markdown import fmt, ratio, table


def floor_section(r: dict, bench) -> str:
    f = r["floor"]
    return (
        "## 1. Framework floor\n\nA trivial Django view (reads the body, answers JSON) behind the "
        "product's settings and middleware, same gunicorn.conf.py, "
        f"{bench.opts.concurrency} keep-alive connections in a closed loop.\n\n"
        + table(
            ["req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "load before → after"],
            [
                [
                    fmt(f["rps"]),
                    fmt(f["p50"], 1),
                    fmt(f["p95"], 1),
                    fmt(f["p99"], 1),
                    fmt(f["errors"]),
                    f"{f['load_before']} → {f['load_after']}",
                ]
            ],
        )
    )


def ingest_section(r: dict, bench) -> str:
    i = r["ingest"]
    rows = []
    floor_rps = r.get("floor", {}).get("rps")
    for mode, label in (
        ("max", f"full speed ({bench.opts.concurrency} connections)"),
        ("rate", f"{fmt(bench.opts.ingest_rate)} msg/s offered"),
    ):
        d = i.get(mode)
        if not d:
            continue
        rows.append(
            [
                label,
                fmt(d["rps"]),
                ratio(d["rps"], floor_rps) if mode == "max" else "–",
                fmt(d["p50"], 1),
                fmt(d["p95"], 1),
                fmt(d["p99"], 1),
                f"{fmt(d['ok'])} / {fmt(d['stored'])}",
                fmt(d["all_stored_match"]),
                f"{d['load_before']} → {d['load_after']}",
            ]
        )
    return (
        "## 2. Webhook ingest\n\nSigned single-message webhooks to `/api/chatbots/webhook/`, "
        "Celery workers stopped (the web path alone: verify, parse, one INSERT, publish the task). "
        "Stored = InboundEvent rows of the run, counted in PostgreSQL.\n\n"
        + _ingest_table(rows)
        + _request_cpu(r)
        + _pieces(i.get("pieces") or {})
    )


def _pieces(p: dict) -> str:
    if not p:
        return ""
    rows = [
        ["bot lookup, route cache empty (ORM query, secret decrypted)", fmt(p["route_cold_us"])],
        ["bot lookup, route cache warm (every webhook but one in 5 s)", fmt(p["route_warm_us"])],
        ["parse the JSON envelope and normalize it", fmt(p["parse_us"])],
        ["check the HMAC-SHA256 signature", fmt(p["signature_us"])],
        ["INSERT ... ON CONFLICT one event (psycopg side)", fmt(p["insert_us"])],
        ["wake the processors (one Redis PUBLISH)", fmt(p["publish_us"])],
    ]
    return (
        "\n\nThe webhook's own steps, timed one by one in one process (µs of CPU each, "
        "PostgreSQL's and Redis's side not included):\n\n" + table(["step", "µs"], rows)
    )


def _request_cpu(r: dict) -> str:
    """CPU per request of the floor and the webhook at full speed, by process."""
    rows = []
    for label, d in (
        ("floor", r.get("floor") or {}),
        ("webhook", (r.get("ingest") or {}).get("max") or {}),
    ):
        if d.get("cpu_total"):
            rows.append(
                [
                    label,
                    fmt(d["rps"]),
                    fmt(d["cpu_web"], 3),
                    fmt(d["cpu_postgres"], 3),
                    fmt(d["cpu_redis"], 3),
                    fmt(d["cpu_load"], 3),
                    fmt(d["cpu_total"], 3),
                    fmt(d.get("cpu_machine"), 3),
                    fmt(2000 / d["cpu_total"]),
                ]
            )
    if not rows:
        return ""
    repeated = sum(
        int(d.get("unbalanced_discarded") or 0)
        for d in (r.get("floor") or {}, (r.get("ingest") or {}).get("max") or {})
    )
    return (
        "\n\nFull-speed runs in which one gunicorn worker accepted (nearly) all 16 "
        "connections and carried the run on one core were run again (see the notes): "
        f"{repeated} this time.\n\nWhere the CPU goes, per answered request at full speed (ms, from /proc; `machine` "
        "is all busy time, other processes included; `ceiling` = 2,000 ms of two cores ÷ "
        "total):\n\n"
        + table(
            [
                "view",
                "req/s",
                "gunicorn",
                "PostgreSQL",
                "Redis",
                "load generator",
                "total",
                "machine",
                "ceiling req/s",
            ],
            rows,
        )
    )


def _ingest_table(rows: list[list]) -> str:
    return table(
        [
            "load",
            "req/s",
            "vs floor",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "200s / stored",
            "stored = 200s (every run)",
            "load before → after",
        ],
        rows,
    )
