"""`python -m benchmarks.live`: live clients of the staff app while webhooks flow.

    python -m benchmarks.live                 # 500 clients, 80 msg/s for 60 s (~4 min)
    python -m benchmarks.live --quick         # 20 clients, 20 msg/s for 5 s, to .work/
    python -m benchmarks.live --clients 800 --rate 80 --duration 120
    make bench-live                           # the same as the first line

The production stack as `python -m benchmarks` starts it (benchmarks.stack: PostgreSQL with
fsync, Redis, gunicorn with the uvicorn worker serving config.asgi, the Procfile's processor,
sender and Celery workers, the fake Graph API), seeded with `--tenants` businesses, each with `--queues`
queues of agents (logged in by a session row each, as a browser that logged in would be)
and `--conversations` conversations per queue with a ticket open and taken. The clients
and the webhooks are benchmarks.live_clients; the figures go to a section of
benchmarks/RESULTS.md of their own (report.LIVE_START .. LIVE_END), which the other
benchmarks keep when they rewrite the file.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import harness, live_clients, load, markdown, report, seed, stack
from benchmarks.live_clients import ClientSpec, Posted
from benchmarks.profiles import summarize_profile
from benchmarks.stack import log

LIVE_PNID_BASE = 300_000_000


@dataclass
class LiveOptions:
    clients: int = 500
    rates: tuple[float, ...] = (80.0,)  # a run per offered rate, on the same stack
    duration: float = 60.0
    tenants: int = 25
    queues: int = 2  # per tenant
    conversations: int = 20  # per queue, each with an open ticket
    grace: float = 30.0  # seconds after the last webhook for the last events
    connect_rate: float = 100.0  # new sockets per second while connecting
    quick: bool = False
    profile: bool = False
    # Webhooks on their own gunicorn (gthread, config.wsgi) and the sockets on another
    # (uvicorn worker, config.asgi), as nginx can route /ws/ apart; default: one server.
    split: bool = False
    output: str = ""

    @property
    def agents_per_queue(self) -> int:
        return max(1, math.ceil(self.clients / (self.tenants * self.queues)))


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


# --- The database ------------------------------------------------------------------------------


@dataclass
class Conversation:
    pnid: str
    sender: str
    queue: str  # the queue's label, f"t{tenant}q{queue}"


def seed_live(opts: LiveOptions) -> tuple[list[ClientSpec], list[Conversation]]:
    """Tenants, their Meta bots, queues, agents with a session each, and conversations whose
    ticket is open and taken in a queue (so the bot stays quiet and every customer message
    is published to the queue). Returns the clients (by queue) and the conversations."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.utils import timezone

    from billing.models import Membership, Plan
    from billing.services import tenant_create
    from chatbots import bots
    from chatbots.models import Conversation as ConversationRow
    from clientes.services import cliente_upsert_from_whatsapp
    from inbox import services as inbox
    from inbox.models import Queue

    User = get_user_model()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    # The backend a password login ends with (axes' backend only guards, it loads no user).
    backend = next(
        b for b in settings.AUTHENTICATION_BACKENDS if b.endswith("backends.ModelBackend")
    )
    per_queue = opts.agents_per_queue
    plan, _ = Plan.objects.get_or_create(
        name="Benchmark live",
        defaults={
            "max_messages_per_month": 0,
            "max_chatbots": 10,
            "max_staff": per_queue * opts.queues + 5,
        },
    )
    clients: list[ClientSpec] = []
    conversations: list[Conversation] = []
    now = timezone.now()
    for t in range(opts.tenants):
        tenant = tenant_create(slug=f"live{t:03d}", name=f"Loja {t}", plan_name=plan.name).tenant
        pnid = str(LIVE_PNID_BASE + t)
        bot = bots.chatbot_create(
            tenant=tenant,
            name="Atendimento",
            provider="meta",
            phone_number_id=pnid,
            access_token=seed.ACCESS_TOKEN,
            app_secret=seed.APP_SECRET,
            messages_per_second=1000,
        )
        for q in range(opts.queues):
            label = f"t{t}q{q}"
            queue = Queue.objects.create(tenant=tenant, name=f"Fila {q}", slug=f"fila-{q}")
            # Unusable passwords: hashing 500 real ones would take minutes; the sockets log
            # in by session, as a browser that has logged in does.
            users = []
            for a in range(per_queue):
                user = User(username=f"agente.{label}.{a}@bench.invalid", is_staff=True)
                user.set_unusable_password()
                users.append(user)
            User.objects.bulk_create(users)
            users = list(User.objects.filter(username__startswith=f"agente.{label}."))
            Membership.objects.bulk_create(
                [Membership(user=u, tenant=tenant, role=Membership.Role.AGENT) for u in users]
            )
            queue.members.add(*users)
            for user in users:
                session = store()
                session[SESSION_KEY] = str(user.pk)
                session[BACKEND_SESSION_KEY] = backend
                session[HASH_SESSION_KEY] = user.get_session_auth_hash()
                session.create()
                cookie = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
                clients.append(ClientSpec(queue=label, headers={"Cookie": cookie}))
            for c in range(opts.conversations):
                sender = f"55119{t % 100:02d}{q % 10}{c:05d}"
                cliente = cliente_upsert_from_whatsapp(tenant=tenant, wa_id=sender)
                row = ConversationRow.objects.create(
                    tenant=tenant, chatbot=bot, cliente=cliente, last_customer_message_at=now
                )
                ticket = inbox.ticket_open(row, queue)
                inbox.ticket_take(ticket, users[c % len(users)])
                conversations.append(Conversation(pnid=pnid, sender=sender, queue=label))
    return clients[: opts.clients], conversations


def webhooks(conversations: list[Conversation], *, tag: str, count: int) -> list[Posted]:
    """`count` customer messages, round robin over the conversations (each customer's
    seconds apart, with increasing timestamps as a phone's), each carrying its token."""
    t0 = int(time.time())
    out = []
    for i in range(count):
        round_no, c = divmod(i, len(conversations))
        conv = conversations[c]
        token = live_clients.token_for(tag, i)
        payload = load.text_payload(
            conv.pnid,
            sender=conv.sender,
            body=f"Oi, alguém pode me ajudar? {token}",
            mid=f"wamid.LIVE.{tag}.{i:07d}",
            ts=t0 + round_no,
        )
        item = load.item(payload, seed.APP_SECRET, key=conv.sender, seq=i)
        out.append(Posted(item=item, queue=conv.queue, token=token))
    return out


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


def finish_profiles(spies: list, *, seconds: int) -> dict:
    out = {}
    for name, dest, popen in spies:
        try:
            popen.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            popen.kill()
        out[name] = summarize_profile(dest) if dest.exists() else {}
    return out


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


# --- The report --------------------------------------------------------------------------------


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


def _met(s: dict, *, clients: int = 500, rate: float = 80) -> bool:
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
                        "yes" if _met(s) else "**no**",
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
        _met(one["summary"], clients=opts.clients, rate=one["rate_offered"])
        for one in figures.get("runs") or []
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
