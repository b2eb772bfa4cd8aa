"""RESULTS.md's targets table (each target, what this run measured, met or not) and the notes
on what bounds the figures, from the run's own CPU accounting."""

from __future__ import annotations

import math

from benchmarks.markdown import fmt, ok, ratio, table


def targets_section(r: dict) -> str:
    rows = []
    floor_rps = r.get("floor", {}).get("rps")
    ing = r.get("ingest", {})
    if ing:
        max_rps = ing.get("max", {}).get("rps")
        p99 = ing.get("rate", {}).get("p99")
        rows.append(
            [
                "ingest ≥ ½ of the floor's req/s",
                f"{fmt(max_rps)} vs floor {fmt(floor_rps)} ({ratio(max_rps, floor_rps)})",
                ok(max_rps and floor_rps and max_rps >= floor_rps / 2),
            ]
        )
        rows.append(
            [
                "ingest p99 < 50 ms at 80 msg/s",
                f"{fmt(p99, 1)} ms",
                ok(p99 is not None and p99 < 50),
            ]
        )
    e2e = r.get("e2e", {})
    if e2e:
        at80 = e2e.get("80", {})
        top = e2e.get("max", {}).get("sustained")
        keeps_up = (at80.get("sustained") or 0) >= 0.97 * 80 and (at80.get("e2e_p95") or 1e9) < 500
        rows.append(
            [
                "end to end ≥ 80 msg/s sustained (keeps up with 80 offered)",
                f"{fmt(at80.get('sustained'), 1)} msg/s replied at 80 offered; "
                f"full speed {fmt(top, 1)} msg/s",
                ok(keeps_up),
            ]
        )
        rows.append(
            [
                "end to end p95 < 500 ms at 80 msg/s",
                f"{fmt(at80.get('e2e_p95'))} ms",
                ok(at80.get("e2e_p95") is not None and at80.get("e2e_p95") < 500),
            ]
        )
        lost = sum(v.get("lost_total", 0) for v in e2e.values() if isinstance(v, dict))
        dup = sum(v.get("duplicated_total", 0) for v in e2e.values() if isinstance(v, dict))
        rows.append(
            [
                "zero lost / duplicated replies (every run)",
                f"{lost} lost, {dup} duplicated",
                ok(lost == 0 and dup == 0),
            ]
        )
    peer_max = r.get("peer", {}).get("max", {}).get("sustained")
    if e2e and peer_max:
        top = e2e.get("max", {}).get("sustained")
        rows.append(
            [
                "end to end at full speed ≥ 0.5 × pywa in the same run (stretch 1×)",
                f"{fmt(top, 1)} vs {fmt(peer_max, 1)} msg/s ({ratio(top, peer_max)})",
                ok(top and top >= 0.5 * peer_max),
            ]
        )
    if e2e.get("sql_per_message_max") is not None:
        rows.append(
            [
                "SQL statements per replied message at full speed ≤ 3",
                f"{fmt(e2e['sql_per_message_max'], 1)} (at 80 msg/s: "
                f"{fmt(e2e.get('sql_per_message'), 1)})",
                ok(e2e["sql_per_message_max"] <= 3),
            ]
        )
    if e2e.get("80"):
        at80 = e2e["80"]
        rows.append(
            [
                "at 80 msg/s: e2e p95 ≤ 100 ms, webhook p99 ≤ 20 ms",
                f"{fmt(at80.get('e2e_p95'))} ms, {fmt(at80.get('webhook_p99'), 1)} ms",
                ok((at80.get("e2e_p95") or 1e9) <= 100 and (at80.get("webhook_p99") or 1e9) <= 20),
            ]
        )
    lat = r.get("latency", {})
    if lat.get("ours") and lat.get("peer"):
        level = lat["levels"][0]
        o, p = lat["ours"].get(level, {}), lat["peer"].get(level, {})
        rows.append(
            [
                f"ahead of pywa end to end at the same load ({level} msg/s, Graph API answering in {fmt(lat['latency_ms'])} ms)",
                f"sustained {fmt(o.get('sustained'), 1)} vs {fmt(p.get('sustained'), 1)} msg/s; "
                f"p95 {fmt(o.get('e2e_p95'))} vs {fmt(p.get('e2e_p95'))} ms",
                ok(
                    (o.get("sustained") or 0) >= (p.get("sustained") or 0) * 0.99
                    and (o.get("e2e_p95") or 1e9) <= (p.get("e2e_p95") or 1e9)
                ),
            ]
        )
    peer = r.get("peer", {})
    if e2e and peer:
        ours, theirs = e2e.get("80", {}), peer.get("80", {})
        rows.append(
            [
                "ahead of pywa with an instant Graph API (80 msg/s, p95)",
                f"{fmt(ours.get('e2e_p95'))} ms vs {fmt(theirs.get('e2e_p95'))} ms",
                ok((ours.get("e2e_p95") or math.inf) <= (theirs.get("e2e_p95") or math.inf)),
            ]
        )
    rem = r.get("reminders", {}).get("sizes", [])
    if len(rem) >= 2:
        a, b = rem[0], rem[1]
        rows.append(
            [
                "reminder time independent of non-due rows",
                f"{fmt(a['task_s'] * 1000)} ms at {fmt(a['rows'])} rows vs {fmt(b['task_s'] * 1000)} ms at {fmt(b['rows'])} (same {a['due']} due)",
                ok(b["task_s"] < a["task_s"] * 2 + 0.05),
            ]
        )
    if not rows:
        return ""
    return "## Targets\n\n" + table(["target", "measured", "met"], rows) + "\n\n" + _bounds(r)


def _bounds(r: dict) -> str:
    """What bounds the figures, from this run's CPU accounting (the profile section, with
    --profile, shows the same by function)."""
    notes = []
    e2e = r.get("e2e", {})
    cpu = (e2e.get("max") or {}).get("cpu_ms_per_message")
    if isinstance(cpu, dict) and cpu:
        total = sum(cpu.values())
        notes.append(
            f"- **End to end is bound by CPU.** A replied message cost {fmt(total, 1)} ms of CPU "
            f"over all processes at full speed (webhook {fmt(cpu.get('gunicorn'), 1)}, "
            f"processing {fmt((cpu.get('processor') or 0) + (cpu.get('celery worker') or 0), 1)}, "
            f"sending {fmt((cpu.get('sender') or 0) + (cpu.get('celery worker_send') or 0), 1)}, "
            f"PostgreSQL {fmt(cpu.get('postgres'), 1)}): "
            f"two idle cores carry at most ~{fmt(2000 / total)} msg/s (less whatever else runs "
            "on the machine: the `other load` column). 80 msg/s offered is then "
            f"~{fmt(80 * total / 20)} % of the machine, so a short stall (autovacuum, a "
            "checkpoint, a worker restart) or a slower host (the `yardstick` column) "
            "leaves a backlog that drains only at the spare rate, and the p95 at 80 msg/s "
            "then moves a lot from run to run. The profile shows "
            f"Django's query building and model loading (~{fmt(e2e.get('sql_per_message'))} "
            "statements a message) and Celery's "
            "per-task work (~1 ms a task) as the bulk; no single hot spot is left."
        )
    ing, floor = r.get("ingest", {}).get("max", {}), r.get("floor", {})
    if ing and floor and ing.get("rps") and floor.get("rps") and ing["rps"] < floor["rps"] / 2:
        notes.append(_ingest_bound(ing, floor, r.get("ingest", {}).get("pieces") or {}))
    notes.append(
        "- **Both gunicorn workers take the load.** The closed-loop runs keep 16 keep-alive "
        "connections open, and which worker accepts each is a race: now and then one worker "
        "won them all (always, when the other was restarting after max_requests or still "
        "booting) and carried the run on one core: the floor fell from ~4,000 to ~1,600 "
        "req/s at random. So the harness waits until every worker has booted, recycles no "
        "worker during the runs (production keeps max_requests 20,000: at the floor's speed "
        "that was a restart every few seconds; at 80 msg/s it is one every ~8 minutes), and "
        "runs again a full-speed run whose busiest worker used over 80 % of the web's CPU. "
        "Real traffic opens and closes connections all the time; this is about measuring "
        "the machine, not a limit of it."
    )
    if r.get("peer") and e2e:
        notes.append(
            "- **pywa with an instant Graph API** replies inside the webhook request and keeps "
            "nothing, so it is faster there by design; with Meta's real answer time (section "
            "3b) the same design holds a web thread per message for two API calls."
        )
    return "\n".join(notes)


def _ingest_bound(ing: dict, floor: dict, pieces: dict) -> str:
    """Why ingest stays under half the floor, in the run's own CPU figures."""
    text = (
        "- **Ingest vs the floor.** The floor view does no I/O at all; the webhook checks the "
        "HMAC, commits one INSERT durably and publishes one task to Redis before it answers, "
        "so that a webhook answered 200 is never lost. Its p99 at 80 msg/s is what Meta sees."
    )
    if not (ing.get("cpu_total") and floor.get("cpu_total")):
        return text
    budget = floor["cpu_total"]  # half the req/s = twice the CPU per request
    text += (
        f" Per request the webhook costs {fmt(ing['cpu_total'], 2)} ms of CPU against the "
        f"floor's {fmt(floor['cpu_total'], 2)} ms (section 2); the two cores are busy in both "
        "runs, so req/s follow CPU per request, and half the floor leaves "
        f"{fmt(budget, 2)} ms per request for everything the webhook adds."
    )
    if not pieces:
        return text
    needed = (
        pieces["publish_us"] + pieces["insert_us"] + pieces["signature_us"] + pieces["parse_us"]
    ) / 1000 + ing["cpu_postgres"]
    text += (
        f" Timed one by one, waking the processors costs {fmt(pieces['publish_us'] / 1000, 2)} ms, "
        f"the INSERT through psycopg {fmt(pieces['insert_us'] / 1000, 2)} ms, the HMAC and the "
        f"parsing {fmt((pieces['signature_us'] + pieces['parse_us']) / 1000, 2)} ms, and "
        f"PostgreSQL spends {fmt(ing['cpu_postgres'], 2)} ms on the INSERT and its durable "
        f"commit: {fmt(needed, 2)} ms"
    )
    if needed >= budget:
        return text + (
            ", more than the whole budget before the view's own Django work is counted. "
            "Half the floor would take a webhook that answers before storing and queueing, "
            "which is the one thing it must not do."
        )
    return text + (
        f", {fmt(100 * needed / budget)} % of the budget; the rest goes to Django's "
        "database layer and the view's own code (the profile's `store_events` and `enqueue`)."
    )
