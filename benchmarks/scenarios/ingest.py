"""1. floor: a trivial Django view behind the same settings and gunicorn.conf.py, the ceiling;
2. ingest: signed single-message webhooks at full speed and at 80/s with the workers
stopped (the web path alone; the stored count is checked against the 200s), and the
webhook's own steps timed one by one."""

from __future__ import annotations

import subprocess
import time
from functools import partial

from benchmarks import load
from benchmarks.harness import Bench, machine_load, median_dicts, warmup
from benchmarks.menu import menu_conversations
from benchmarks.scenarios.accounting import balanced_run, cpu_per_request, gunicorn_worker_rss


def scenario_floor(b: Bench) -> dict:
    proc, port = b.stack.start_gunicorn(
        "floor",
        "benchmarks.floor.wsgi:application",
        # A plain WSGI app: gunicorn's threaded worker, as it was measured.
        extra_env={
            "DJANGO_SETTINGS_MODULE": "benchmarks.floor.settings",
            "GUNICORN_WORKER_CLASS": "gthread",
        },
    )
    try:
        runs = []
        tag = b.run_tag("floor")
        items = menu_conversations(b.seeded.menu_pnid, b.seeded.app_secret, tag=tag, count=200)
        warmup(port, items)

        def one_run() -> dict:
            before = machine_load()
            tag = b.run_tag("floor")
            items = menu_conversations(
                b.seeded.menu_pnid, b.seeded.app_secret, tag=tag, count=int(2000 * b.opts.duration)
            )
            cpu_before = b.cpu_snapshot()
            run = load.run_load(
                port=port, items=items, concurrency=b.opts.concurrency, time_limit=b.opts.duration
            )
            cpu = cpu_per_request(cpu_before, b.cpu_snapshot(), len(run.ok), web="gunicorn floor")
            return {
                **load.summary(run),
                **cpu,
                "load_before": before,
                "load_after": machine_load(),
            }

        for _ in range(b.opts.runs):
            runs.append(balanced_run(proc, one_run))
        result = median_dicts(runs)
        result["unbalanced_discarded"] = sum(r["unbalanced_discarded"] for r in runs)
        result["rss_worker_mb"] = gunicorn_worker_rss(proc)
        return result
    finally:
        b.stack.stop_proc(proc)


def scenario_ingest(b: Bench) -> dict:
    from django.db.models import Max

    from chatbots.models import InboundEvent

    b.stop_workers()  # the web path alone: events stay pending, tasks stay in the broker
    port = b.start_web()
    last_before = InboundEvent.objects.aggregate(last=Max("id"))["last"] or 0
    warm = menu_conversations(
        b.seeded.menu_pnid, b.seeded.app_secret, tag=b.run_tag("warm"), count=200
    )
    warmup(port, warm)
    out: dict = {}
    stored_checks: list[bool] = []

    def one_run(mode: str) -> dict:
        tag = b.run_tag("ing")
        count = (
            int(2000 * b.opts.duration)
            if mode == "max"
            else int(b.opts.ingest_rate * b.opts.duration)
        )
        items = menu_conversations(b.seeded.menu_pnid, b.seeded.app_secret, tag=tag, count=count)
        before = machine_load()
        cpu_before = b.cpu_snapshot()
        if mode == "max":
            run = load.run_load(
                port=port,
                items=items,
                concurrency=b.opts.concurrency,
                time_limit=b.opts.duration,
            )
        else:
            run = load.run_load(
                port=port,
                items=items,
                rate=b.opts.ingest_rate,
                time_limit=b.opts.duration + 1,
            )
        figures = load.summary(run)
        figures.update(cpu_per_request(cpu_before, b.cpu_snapshot(), len(run.ok)))
        prefix = f"wamid.BENCH.{tag}."
        stored = InboundEvent.objects.filter(external_id__startswith=prefix).count()
        figures.update(
            stored=stored,
            stored_matches=stored == figures["ok"],
            load_before=before,
            load_after=machine_load(),
        )
        stored_checks.append(figures["stored_matches"])  # discarded runs count too
        InboundEvent.objects.filter(external_id__startswith=prefix).delete()
        return figures

    for mode in ("max", "rate"):
        runs = []
        stored_checks.clear()
        for _ in range(b.opts.runs):
            if mode == "max":
                runs.append(balanced_run(b.web, partial(one_run, mode)))
            else:
                runs.append(one_run(mode))
        out[mode] = median_dicts(runs)
        out[mode]["all_stored_match"] = all(stored_checks)
        if mode == "max":
            out[mode]["unbalanced_discarded"] = sum(r["unbalanced_discarded"] for r in runs)
    out["pieces"] = webhook_pieces(b)
    # Nobody will process these (and the next scenarios wait for an idle system).
    InboundEvent.objects.filter(id__gt=last_before).delete()
    _purge_broker(b)
    out["rss_worker_mb"] = gunicorn_worker_rss(b.web)
    return out


def webhook_pieces(b: Bench, n: int = 500) -> dict:
    """CPU of the webhook's own steps, timed one by one in this process (PostgreSQL's and
    Redis's side not included): what the view adds to the floor's request, piece by piece.

    * route: the bot lookup with an empty route cache (the ORM query, the secret decrypted)
      and with a warm one;
    * parse: reading the JSON envelope and normalizing it (meta_inbound);
    * signature: the HMAC-SHA256 check of the body;
    * insert: the INSERT ... ON CONFLICT of one event, through psycopg;
    * publish: waking the processors (chatbots.processor.wake: one Redis PUBLISH).
    """
    from chatbots import inbound, processor, routing
    from chatbots.providers import meta_inbound

    items = menu_conversations(
        b.seeded.menu_pnid, b.seeded.app_secret, tag=b.run_tag("pcs"), count=n
    )
    pnid = b.seeded.menu_pnid
    envelopes = [meta_inbound.load_envelope(item.body) for item in items]
    parsed = [meta_inbound.parse_envelope(env)[0] for env in envelopes]
    route = routing.routes_for([pnid])[pnid]

    def cpu_us(step) -> float:
        step(0)  # imports, first connection
        started = time.process_time()
        for i in range(n):
            step(i)
        return (time.process_time() - started) * 1e6 / n

    def cold_route(_i):
        routing.clear()
        routing.routes_for([pnid])

    def parse(i):
        meta_inbound.parse_envelope(meta_inbound.load_envelope(items[i].body))

    def signature(i):
        meta_inbound.verify_signature(
            body=items[i].body, header=items[i].signature, secret=route.app_secret
        )

    def insert(i):
        item, raw = parsed[i]
        inbound._insert_ignoring_duplicates(inbound.event_rows([(route, item, raw)]))

    return {
        "route_cold_us": cpu_us(cold_route),
        "route_warm_us": cpu_us(lambda _i: routing.routes_for([pnid])),
        "parse_us": cpu_us(parse),
        "signature_us": cpu_us(signature),
        "insert_us": cpu_us(insert),
        "publish_us": cpu_us(lambda _i: processor.wake()),
    }


def _purge_broker(b: Bench) -> None:
    subprocess.run(
        ["redis-cli", "-p", str(b.stack.redis_port), "DEL", "replies", "default"],
        capture_output=True,
        check=False,
    )
