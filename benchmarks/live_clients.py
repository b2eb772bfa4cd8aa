"""The live benchmark's load: WebSocket clients of the staff app and the webhooks they watch.

N clients connect to `/ws/atendimento/` (the `websockets` library, one asyncio loop), each
with a logged-in agent's session cookie and the Origin a browser would send, and wait for
the consumer's `pong` (it has joined the agent's groups before it accepts). Then signed
Meta webhooks are posted open loop at a steady rate (benchmarks.load: request i is due at
start + i / rate, whether or not the server kept up), each a customer message carrying a
unique token, to a conversation whose ticket is open in one queue. Every client records
when each `message` event arrives, by the token in its data.

For each client and each message of its queue the delay is the event's arrival minus the
moment the webhook was due; an expected event that never came by the end of the grace
period is missed; a connection closed by the server before the end is a dropped client.
Nothing here touches Django: benchmarks.live seeds the database, starts the stack and
calls `live_run`; benchmarks/tests/test_live.py drives it against a stand-in server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from benchmarks import load

TOKEN = re.compile(r"#live-([A-Za-z0-9]+)-(\d+)")
TARGET_SECONDS = 2.0  # the "within 2 s"


@dataclass
class ClientSpec:
    """One staff member's socket: the headers of a logged-in browser, and the queue (any
    label) whose messages it must see."""

    queue: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Posted:
    """One webhook to post: the signed request, the queue its conversation is in, and
    the token its text carries."""

    item: load.Item
    queue: str
    token: str


def token_for(tag: str, seq: int) -> str:
    return f"#live-{tag}-{seq:07d}"


def find_token(data: object) -> str:
    """The token inside an event's data, wherever the text preview is kept."""
    if isinstance(data, str):
        found = TOKEN.search(data)
        return found[0] if found else ""
    if isinstance(data, dict):
        data = list(data.values())
    if isinstance(data, list):
        for value in data:
            if token := find_token(value):
                return token
    return ""


@dataclass
class ClientState:
    spec: ClientSpec
    ready_at: float = 0.0  # when the pong came back (0: never connected)
    refused: str = ""  # why the connection never opened, or was closed at once
    dropped_at: float = 0.0  # the server closed it before the end
    drop_reason: str = ""
    arrivals: dict[str, float] = field(default_factory=dict)  # token -> first arrival
    duplicates: int = 0
    frames: int = 0


@dataclass
class LiveRun:
    clients: list[ClientState]
    posts: load.Run | None = None
    posted: list[Posted] = field(default_factory=list)
    connect_seconds: float = 0.0
    post_started: float = 0.0
    post_finished: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # part -> CPU cores during posting


async def _client(state: ClientState, url: str, origin: str, ended: asyncio.Event) -> None:
    try:
        async with connect(
            url,
            origin=origin,
            additional_headers=state.spec.headers,
            open_timeout=60,
            close_timeout=5,
            max_queue=None,  # never stop reading: a slow reader would look like a slow server
        ) as ws:
            await ws.send(json.dumps({"action": "ping"}))
            async for raw in ws:
                now = time.time()
                state.frames += 1
                event = json.loads(raw)
                kind = event.get("kind") if isinstance(event, dict) else None
                if kind == "pong" and not state.ready_at:
                    state.ready_at = now
                elif kind == "message" and (token := find_token(event.get("data"))):
                    if token in state.arrivals:
                        state.duplicates += 1
                    else:
                        state.arrivals[token] = now
    except ConnectionClosed as exc:
        if not ended.is_set():
            code = exc.rcvd.code if exc.rcvd is not None else 1006
            if state.ready_at:
                state.dropped_at, state.drop_reason = time.time(), f"closed {code}"
            else:
                state.refused = f"closed {code} before its pong"
    except InvalidStatus as exc:
        state.refused = f"HTTP {exc.response.status_code}"
    except (OSError, TimeoutError) as exc:
        if state.ready_at and not ended.is_set():
            state.dropped_at, state.drop_reason = time.time(), type(exc).__name__
        elif not state.ready_at:
            state.refused = type(exc).__name__


async def live_run(
    *,
    ws_url: str,
    origin: str,
    port: int,
    clients: list[ClientSpec],
    posted: list[Posted],
    rate: float,
    time_limit: float,
    grace: float = 10.0,
    connect_rate: float = 100.0,
    connect_timeout: float = 120.0,
    connections: int = 16,
    cpu_probe=None,
    on_posting=None,
) -> LiveRun:
    """Connect every client (at `connect_rate` per second), post `posted` at `rate` per
    second within `time_limit`, wait until every expected event arrived or `grace` seconds
    passed after the last post, close everything. `cpu_probe()` -> {part: CPU seconds} is
    read before and after the posting, to give each part's CPU cores meanwhile;
    `on_posting()` is called as the posting starts (to start profilers)."""
    run = LiveRun(clients=[ClientState(spec) for spec in clients], posted=posted)
    ended = asyncio.Event()
    t0 = time.time()
    tasks = []
    for i, state in enumerate(run.clients):
        tasks.append(asyncio.create_task(_client(state, ws_url, origin, ended)))
        if connect_rate > 0:
            await asyncio.sleep(max(0.0, t0 + (i + 1) / connect_rate - time.time()))
    deadline = time.time() + connect_timeout
    while time.time() < deadline and any(not s.ready_at and not s.refused for s in run.clients):
        await asyncio.sleep(0.05)
    run.connect_seconds = time.time() - t0

    if on_posting is not None:
        on_posting()
    before = cpu_probe() if cpu_probe else {}
    run.post_started = time.time()
    run.posts = await load.open_loop(
        "127.0.0.1",
        port,
        load.WEBHOOK_PATH,
        [p.item for p in posted],
        rate,
        time_limit,
        connections,
    )
    run.post_finished = time.time()
    after = cpu_probe() if cpu_probe else {}
    elapsed = max(run.post_finished - run.post_started, 1e-9)
    run.cpu = {k: (after[k] - before.get(k, 0.0)) / elapsed for k in after}

    expected = _expected(run)
    end = time.time() + grace
    while time.time() < end and any(
        token not in run.clients[i].arrivals
        for i, tokens in expected.items()
        if not run.clients[i].dropped_at
        for token in tokens
    ):
        await asyncio.sleep(0.1)
    ended.set()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return run


def _expected(run: LiveRun) -> dict[int, list[str]]:
    """Client index -> the tokens it must see: every message posted (answered 200) to its
    queue, for every client that connected."""
    accepted = _accepted(run)
    by_queue: dict[str, list[str]] = defaultdict(list)
    for p in run.posted:
        if p.token in accepted:
            by_queue[p.queue].append(p.token)
    return {i: by_queue[s.spec.queue] for i, s in enumerate(run.clients) if s.ready_at}


def _accepted(run: LiveRun) -> dict[str, float]:
    """token -> the moment its webhook was due, for every webhook answered 200."""
    if run.posts is None:
        return {}
    tokens = {p.item.seq: p.token for p in run.posted}
    return {tokens[r.seq]: r.due for r in run.posts.results if r.status == 200}


def summary(run: LiveRun) -> dict:
    """The figures of a run: connections, webhooks, and the delay of every expected event."""
    accepted = _accepted(run)
    delays: list[float] = []
    missed = 0
    for i, tokens in _expected(run).items():
        for token in tokens:
            arrived = run.clients[i].arrivals.get(token)
            if arrived is None:
                missed += 1
            else:
                delays.append(arrived - accepted[token])
    expected = len(delays) + missed
    within = sum(1 for d in delays if d <= TARGET_SECONDS)
    statuses = Counter(r.status for r in run.posts.results) if run.posts else Counter()
    connected = [s for s in run.clients if s.ready_at]
    posting = max(run.post_finished - run.post_started, 1e-9)
    return {
        "clients": len(run.clients),
        "connected": len(connected),
        "refused": Counter(s.refused for s in run.clients if s.refused),
        "dropped": sum(1 for s in run.clients if s.dropped_at),
        "drop_reasons": Counter(s.drop_reason for s in run.clients if s.dropped_at),
        "connect_seconds": run.connect_seconds,
        "posted": len(run.posts.results) if run.posts else 0,
        "accepted": len(accepted),
        "statuses": dict(statuses),
        "rate": len(accepted) / posting,
        "posting_seconds": posting,
        "webhook_p95_ms": _pct([r.latency * 1000 for r in run.posts.ok], 95) if run.posts else 0,
        "expected": expected,
        "delivered": len(delays),
        "missed": missed,
        "duplicates": sum(s.duplicates for s in run.clients),
        "within_2s": within / expected if expected else math.nan,
        "p50": _pct(delays, 50),
        "p95": _pct(delays, 95),
        "p99": _pct(delays, 99),
        "max": max(delays) if delays else math.nan,
        "fanout": expected / len(accepted) if accepted else math.nan,
        "cpu": dict(run.cpu),
    }


def _pct(values: list[float], q: float) -> float:
    return load.percentile(values, q)
