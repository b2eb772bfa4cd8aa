"""A bounded HTTP load generator: signed, real-shaped Meta webhooks to 127.0.0.1 only.

Two modes, both bounded by a request count AND a time limit:

* open loop (`rate=`): request i is due at start + i / rate, whether or not the earlier
  ones were answered (Meta does not wait for us). Latency is counted from the moment the
  request was due, so a server that falls behind shows it in the percentiles instead of
  silently slowing the generator down (no coordinated omission).
* closed loop (`concurrency=`): that many connections each send the next request as soon
  as the previous one is answered: the server's maximum rate.

One asyncio loop, raw HTTP/1.1 over keep-alive connections, bodies and signatures built
before the clock starts: the generator costs a few tens of microseconds per request. A
request whose reused connection was closed under it (gunicorn recycling a worker) is
sent again on a new connection, as HTTP clients do; the webhook deduplicates by message id,
which is also what makes Meta's own retries harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import ip_address

WEBHOOK_PATH = "/api/chatbots/webhook/"


@dataclass
class Item:
    """One request: its body, signature, and who it is from (to match replies)."""

    body: bytes
    signature: str
    key: str = ""  # the sender's digits
    seq: int = 0  # this sender's n-th message (0-based)


@dataclass
class Result:
    key: str
    seq: int
    due: float  # time.time() when the request was due (open loop) or started (closed)
    sent: float  # when its bytes were written
    done: float  # when the whole answer was read (0 when it failed)
    status: int  # HTTP status, 0 for a transport failure

    @property
    def latency(self) -> float:
        return self.done - self.due if self.done else math.inf


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    offered: int = 0  # requests the schedule released before the time limit
    retries: int = 0
    timed_out: bool = False

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == 200]

    @property
    def elapsed(self) -> float:
        return max(self.finished - self.started, 1e-9)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_payload(phone_number_id: str, *, sender: str, body: str, mid: str, ts: int) -> dict:
    """A Meta `messages` webhook with one text message (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components)."""
    return _envelope(
        phone_number_id,
        sender,
        {"from": sender, "id": mid, "timestamp": str(ts), "type": "text", "text": {"body": body}},
    )


def reply_payload(
    phone_number_id: str, *, sender: str, kind: str, reply_id: str, title: str, mid: str, ts: int
) -> dict:
    """A tap on a reply button (`kind="button_reply"`) or a list row (`"list_reply"`)."""
    return _envelope(
        phone_number_id,
        sender,
        {
            "from": sender,
            "id": mid,
            "timestamp": str(ts),
            "type": "interactive",
            "context": {"from": "5511900000000", "id": "wamid.CTX"},
            "interactive": {"type": kind, kind: {"id": reply_id, "title": title}},
        },
    )


def _envelope(phone_number_id: str, sender: str, message: dict) -> dict:
    # Since 2026 Meta adds the business-scoped user id (BSUID) next to the phone number
    # (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components); pywa 4.5 requires it.
    user_id = f"BR.{sender}"
    message["from_user_id"] = user_id
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA-BENCH",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "5511900000000",
                                "phone_number_id": phone_number_id,
                            },
                            "contacts": [
                                {
                                    "profile": {"name": "Cliente Teste"},
                                    "wa_id": sender,
                                    "user_id": user_id,
                                }
                            ],
                            "messages": [message],
                        },
                    }
                ],
            }
        ],
    }


def item(payload: dict, secret: str, *, key: str = "", seq: int = 0) -> Item:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Item(body=body, signature=sign(body, secret), key=key, seq=seq)


# --- The generator ----------------------------------------------------------------------------


class _Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.used = 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, request: bytes) -> tuple[int, bool, bytes]:
        """Send one request, read its answer; (status, keep the connection, body)."""
        if self.writer is None:
            await self.open()
        self.writer.write(request)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        body = await self.reader.readexactly(length) if length else b""
        self.used += 1
        return status, keep, body

    async def get(self, path: str) -> bytes:
        """GET `path` on this connection (reopened when needed); the body of a 200."""
        for _attempt in range(2):
            try:
                status, keep, body = await self.exchange(
                    f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
                )
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.close()
                continue
            if not keep:
                self.close()
            if status == 200:
                return body
            raise RuntimeError(f"GET {path}: HTTP {status}")
        raise RuntimeError(f"GET {path}: connection failed twice")


def _request_bytes(host: str, port: int, path: str, it: Item) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(it.body)}\r\nX-Hub-Signature-256: {it.signature}\r\n"
        "User-Agent: facebookexternalua\r\n\r\n"
    ).encode() + it.body


async def _send(conn: _Conn, request: bytes, run: Run) -> int:
    for attempt in range(2):
        reused = conn.used > 0
        try:
            status, keep, _body = await asyncio.wait_for(conn.exchange(request), timeout=30)
            if not keep:
                conn.close()
            return status
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            conn.close()
            if attempt == 0 and reused and not isinstance(exc, TimeoutError):
                run.retries += 1  # stale keep-alive connection: once more on a new one
                continue
            return 0
        except TimeoutError:
            conn.close()
            return 0
    return 0


def check_loopback(host: str) -> None:
    if not ip_address(host).is_loopback:
        raise ValueError(f"the load generator only targets loopback addresses, not {host}")


async def _open_loop(
    host: str,
    port: int,
    path: str,
    items: list[Item],
    rate: float,
    time_limit: float,
    connections: int,
) -> Run:
    run = Run()
    queue: asyncio.Queue = asyncio.Queue()
    conns = [_Conn(host, port) for _ in range(connections)]
    for conn in conns:
        await conn.open()

    async def worker(conn: _Conn) -> None:
        while True:
            job = await queue.get()
            if job is None:
                return
            it, due = job
            request = _request_bytes(host, port, path, it)
            sent = time.time()
            status = await _send(conn, request, run)
            run.results.append(
                Result(it.key, it.seq, due, sent, time.time() if status else 0, status)
            )

    tasks = [asyncio.create_task(worker(c)) for c in conns]
    run.started = start = time.time()
    for i, it in enumerate(items):
        due = start + i / rate
        if due - start > time_limit:
            run.timed_out = True
            break
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((it, due))
        run.offered += 1
    for _ in tasks:
        queue.put_nowait(None)
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=time_limit + 30)
    except TimeoutError:
        run.timed_out = True
    run.finished = time.time()
    for conn in conns:
        conn.close()
    return run


#: The open loop for a caller already inside an event loop (benchmarks.live_clients).
open_loop = _open_loop


async def _closed_loop(
    host: str, port: int, path: str, items: list[Item], concurrency: int, time_limit: float
) -> Run:
    run = Run()
    source = iter(items)
    deadline = time.time() + time_limit

    async def worker() -> None:
        conn = _Conn(host, port)
        await conn.open()
        try:
            for it in source:
                if time.time() > deadline:
                    run.timed_out = True
                    return
                run.offered += 1
                request = _request_bytes(host, port, path, it)
                due = sent = time.time()
                status = await _send(conn, request, run)
                run.results.append(
                    Result(it.key, it.seq, due, sent, time.time() if status else 0, status)
                )
        finally:
            conn.close()

    run.started = time.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.finished = time.time()
    return run


def run_load(
    *,
    port: int,
    items: Iterable[Item],
    rate: float | None = None,
    concurrency: int | None = None,
    time_limit: float = 20.0,
    connections: int = 64,
    host: str = "127.0.0.1",
    path: str = WEBHOOK_PATH,
) -> Run:
    """Send `items` (at most all of them) within `time_limit` seconds; open loop at `rate`
    requests/s, or closed loop with `concurrency` connections."""
    check_loopback(host)
    items = list(items)
    if (rate is None) == (concurrency is None):
        raise ValueError("give exactly one of rate= (open loop) or concurrency= (closed loop)")
    if rate is not None:
        coro = _open_loop(host, port, path, items, rate, time_limit, connections)
    else:
        coro = _closed_loop(host, port, path, items, concurrency, time_limit)
    return asyncio.run(coro)


# --- Figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of finite values; nan when there are none."""
    data = sorted(v for v in values if math.isfinite(v))
    if not data:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[rank - 1]


def summary(run: Run) -> dict:
    """Requests per second (answered 200 over the run's wall time) and latency percentiles (ms)."""
    ok = run.ok
    latencies = [r.latency * 1000 for r in ok]
    return {
        "sent": len(run.results),
        "ok": len(ok),
        "errors": len(run.results) - len(ok),
        "retries": run.retries,
        "rps": len(ok) / run.elapsed,
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else math.nan,
    }
