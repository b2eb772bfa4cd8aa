"""RESULTS.md's end-to-end sections: 3 (ours at each offered load and full speed, with where
a reply's time goes leg by leg), 3b (with a Graph API as slow as Meta's), 3c (1, 2 and 4
processors and senders) and 6 (the pywa peer side by side)."""

from __future__ import annotations

from benchmarks.markdown import fmt, ratio, table


def _e2e_rows(d: dict, levels) -> list[list]:
    rows = []
    for level in levels:
        v = d.get(level)
        if not v:
            continue
        rows.append(
            [
                level if level == "max" else f"{level} msg/s",
                fmt(v["messages"]),
                fmt(v["sustained"], 1),
                fmt(v["e2e_p50"]),
                fmt(v["e2e_p95"]),
                fmt(v["e2e_p99"]),
                fmt(v["webhook_p99"], 1),
                f"{v['lost_total']} / {v['duplicated_total']} / {v['wrong_total']}",
                fmt(v.get("overtaken_total")) if "overtaken_total" in v else "–",
                fmt(v.get("other_cores"), 2),
                fmt(v.get("yardstick_ms"), 2),
                f"{v['load_before']} → {v['load_after']}",
            ]
        )
    return rows


E2E_HEADER = [
    "offered",
    "messages/run",
    "sustained msg/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "webhook p99 ms",
    "lost / dup / wrong (all runs)",
    "stored out of order (all runs)",
    "other load (cores)",
    "yardstick ms",
    "load before → after",
]


def _levels(bench) -> list[str]:
    return [str(x) for x in bench.opts.loads] + ["max"]


def e2e_section(r: dict, bench) -> str:
    return (
        "## 3. End to end\n\nFrom the webhook POST (the moment it was due, open loop) to the reply "
        "arriving at the fake Graph API, through the `menu` flow. Each customer sends four "
        'messages seconds apart ("oi" → menu, taps "Horário e endereço" → text, "menu" → '
        "menu, taps again → text): one new conversation in four. Replies are matched to messages "
        "by customer and order; `wrong` = a reply of the wrong kind. `max` = "
        f"{fmt(bench.opts.max_messages)} messages sent as fast as the webhook takes them; its "
        "sustained rate is messages over the time to the last reply, and its latencies include "
        "the backlog. `other load` = cores' worth of CPU that processes outside the benchmark "
        "used during the run (the machine's busy time minus the stack's own, median of the "
        "runs): well above 0, the figures are lower than this machine alone gives. "
        "`yardstick ms` = CPU the fake Graph API used per message (median of the runs): its "
        "work per message is nearly fixed (parse two POSTs, answer JSON; a little more per "
        "message at low rates, when fewer requests share a wake-up), so when it rises at the "
        "same offered load the host itself is slower (on this VM ~0.3 ms at 80 msg/s on a "
        "quiet host, up to ~0.7 ms on a busy one, which neither the load average nor steal "
        "time shows), and the rest of the row is slowed in proportion. `stored out of order` = "
        "messages stored after a later message of the same customer (their webhooks overtook "
        "one another on the way in, when the web is starved): the engine answers in the order "
        "it stored, so each can give a `wrong` pair that is not the consumers' doing; "
        "`wrong` ≤ 2 × that count means the consumers kept every stored order."
        "\n\n" + table(E2E_HEADER, _e2e_rows(r["e2e"], _levels(bench))) + _stages(r["e2e"], bench)
    )


def _stages(d: dict, bench) -> str:
    """Where a reply's time goes, leg by leg (scenarios/e2e.py, stages), last run of each level."""
    rows = []
    for level in _levels(bench):
        st = (d.get(level) or {}).get("stages")
        if not st:
            continue
        label = "max" if level == "max" else f"{fmt(float(level))} msg/s"
        rows.append(
            [label] + [f"{fmt(st.get(f'{leg}_50'))} / {fmt(st.get(f'{leg}_95'))}" for leg in _LEGS]
        )
    if not rows:
        return ""
    return (
        "\n\nWhere a reply's time goes (p50 / p95 ms of each leg, last run of each level, "
        "from the rows' own timestamps): `webhook → stored` = the web's queueing and its "
        "INSERT (`received_at`); `stored → batch done` = waiting for the processor (its "
        "wake-up, the batch ahead of it) and the turn (`processed_at`, set as the batch "
        "ends); `batch done → at the Graph API` = the commit, the sender's nudge, its claim "
        "and the HTTP call.\n\n"
        + table(
            ["offered", "webhook → stored", "stored → batch done", "batch done → at the Graph API"],
            rows,
        )
    )


_LEGS = ("stored", "processed", "sent")


def scaling_section(r: dict, bench) -> str:
    rows = []
    for n, levels in r["scaling"].items():
        for level, v in levels.items():
            cpu = v.get("cpu_ms_per_message") or {}
            rows.append(
                [
                    n,
                    level if level == "max" else f"{level} msg/s",
                    fmt(v["sustained"], 1),
                    fmt(v["e2e_p95"]),
                    fmt(v["webhook_p99"], 1),
                    f"{v['lost_total']} / {v['duplicated_total']} / {v['wrong_total']}",
                    fmt(v.get("overtaken_total")),
                    fmt(cpu.get("processor"), 1),
                    fmt(cpu.get("sender"), 1),
                    fmt(cpu.get("postgres"), 1),
                    fmt(sum(cpu.values()) if cpu else None, 1),
                    fmt(v.get("other_cores"), 2),
                ]
            )
    return (
        "## 3c. Scaling: 1, 2 and 4 processors and senders\n\n"
        "The same end-to-end runs (80 msg/s and full speed) with N `run_processor` and N "
        "`run_sender` processes on this machine and one web (2 gunicorn workers). Consumers "
        "share the work by the per-contact locks (processor) and FOR UPDATE SKIP LOCKED "
        "(sender); the order and exactly-once columns hold for every N. CPU in ms per message."
        "\n\n"
        + table(
            [
                "consumers",
                "offered",
                "sustained msg/s",
                "p95 ms",
                "webhook p99 ms",
                "lost / dup / wrong",
                "stored out of order",
                "processor",
                "sender",
                "postgres",
                "total",
                "other load (cores)",
            ],
            rows,
        )
    )


def peer_section(r: dict, bench) -> str:
    rows = _e2e_rows(r["peer"], _levels(bench))
    text = (
        "## 6. The pywa peer, side by side\n\nThe same menu replies written with pywa 4.5 on "
        "Flask, under the same gunicorn.conf.py, to the same fake Graph API. pywa calls the "
        "handlers inside the webhook request (the reply is sent before the 200) and stores "
        "nothing; we store every message, order them per customer, retry sends, and answer "
        "the webhook before replying.\n\n" + table(E2E_HEADER, rows)
    )
    e2e = r.get("e2e")
    floor_rps = r.get("floor", {}).get("rps")
    if e2e:
        cmp_rows = []
        for level in _levels(bench):
            o, p = e2e.get(level), r["peer"].get(level)
            if not o or not p:
                continue
            cmp_rows.append(
                [
                    level if level == "max" else f"{level} msg/s",
                    f"{fmt(o['sustained'], 1)} / {fmt(p['sustained'], 1)} ({ratio(o['sustained'], p['sustained'])})",
                    f"{fmt(o['e2e_p95'])} / {fmt(p['e2e_p95'])} ({ratio(o['e2e_p95'], p['e2e_p95'])})",
                    f"{fmt(o['webhook_p99'], 1)} / {fmt(p['webhook_p99'], 1)}",
                    f"{fmt(100 * o['sustained'] / floor_rps, 1)} % / {fmt(100 * p['sustained'] / floor_rps, 1)} %"
                    if floor_rps
                    else "–",
                ]
            )
        text += "\n\nOurs / pywa (ratio ours ÷ pywa; for latency lower is better):\n\n" + table(
            [
                "offered",
                "sustained msg/s",
                "e2e p95 ms",
                "webhook p99 ms",
                "sustained ÷ floor req/s (ours / pywa)",
            ],
            cmp_rows,
        )
    return text


def latency_section(r: dict, bench) -> str:
    lat = r["latency"]
    rows = []
    for who, label in (("ours", "ours"), ("peer", "pywa")):
        for level in lat["levels"]:
            v = lat.get(who, {}).get(level)
            if not v:
                continue
            rows.append(
                [
                    label,
                    f"{level} msg/s",
                    fmt(v["sustained"], 1),
                    fmt(v["e2e_p50"]),
                    fmt(v["e2e_p95"]),
                    fmt(v["e2e_p99"]),
                    fmt(v["webhook_p50"], 1),
                    fmt(v["webhook_p99"], 1),
                    f"{v['lost_total']} / {v['duplicated_total']} / {v['wrong_total']}",
                    fmt(v.get("other_cores"), 2),
                    f"{v['load_before']} → {v['load_after']}",
                ]
            )
    return (
        f"## 3b. End to end when the Graph API takes {fmt(lat['latency_ms'])} ms to answer\n\n"
        "Meta's API does not answer instantly (100–300 ms a call is common). Same runs as "
        "above for both bots, with the fake Graph API answering every call that late. pywa "
        "makes its two calls (read receipt, reply) inside the webhook request, so each "
        "message holds a gunicorn thread for both; Meta wants the webhook answered in under "
        "250 ms (median) and retries slow ones. Ours answers the webhook after one INSERT and "
        "sends from the `outbound` queue's threads.\n\n"
        + table(
            [
                "bot",
                "offered",
                "sustained msg/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "webhook p50 ms",
                "webhook p99 ms",
                "lost / dup / wrong",
                "other load (cores)",
                "load before → after",
            ],
            rows,
        )
    )
