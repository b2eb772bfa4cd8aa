"""A fake Meta Graph API for the benchmarks: a raw asyncio HTTP/1.1 server on 127.0.0.1.

It answers like Meta (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages): a send gets `{"messaging_product": "whatsapp",
"contacts": [...], "messages": [{"id": "wamid.<unique>"}]}`, a read receipt gets
`{"success": true}`, a request without a bearer token gets error 190. Keep-alive, no
framework, one event loop: a few tens of microseconds per request, so it is never what
limits a run (tests/fakes/graph.py is the scriptable one the test suite uses).

It records every send (arrival time, recipient digits, phone number id, message kind,
the first characters of its text) and counts read receipts, and serves them to the
harness on two control paths:

    GET  /__bench/stats?since=N   -> {"sends": [[t, to, pnid, kind, text], ...] from the
                                      N-th on, "reads": n, "total": n}
    POST /__bench/reset           -> forget everything
    POST /__bench/latency?ms=150  -> answer every later request 150 ms late (Meta's
                                     answer time; 0 by default)
    POST /__bench/fail?status=429&n=50 -> the next 50 sends and receipts get that error
                                     (429: Meta's 130429 throughput limit; 5xx: 131000),
                                     recorded as refused, not as sends (benchmarks/chaos.py)
    POST /__bench/hold?s=6&n=50      -> the next 50 sends and receipts get no answer for 6 s
                                     (longer than the product's HTTP timeout), then a 500:
                                     a Graph API that hangs; refused, not recorded as sends

Run it alone with `python -m benchmarks.fakegraph --port 0` (prints `READY <port>`), or in
a thread with FakeGraphServer().start() (the smoke test does).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import threading
import time

SEND_PATH = re.compile(rb"^/v\d+\.\d+/(?P<pnid>[^/]+)/messages$")
NOT_DIGITS = re.compile(r"\D")
HELD = -1  # answer() says: hold this request (the hang of POST /__bench/hold)


class Recorder:
    def __init__(self) -> None:
        self.sends: list[tuple[float, str, str, str, str]] = []
        self.reads = 0
        self.other = 0

    def reset(self) -> None:
        self.sends.clear()
        self.reads = 0
        self.other = 0


def _text_of(body: dict) -> str:
    kind = body.get("type", "")
    part = body.get(kind)
    if isinstance(part, dict):
        if kind == "text":
            return str(part.get("body", ""))[:40]
        inner = part.get("body")
        if isinstance(inner, dict):
            return str(inner.get("text", ""))[:40]
        return str(part.get("name", ""))[:40]  # template
    return ""


class FakeGraph:
    """The protocol side: parse, answer, record. `latency` delays each answer (seconds)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.recorder = Recorder()
        self.latency = latency
        self._ids = itertools.count(1)
        self.fail_status = 0
        self.fail_left = 0
        self.hold_seconds = 0.0
        self.hold_left = 0
        self.holding = 0  # requests being held now
        self.refused = 0
        self._tag = f"{os.getpid():x}{int(time.time()):x}".upper()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, target, _version = lines[0].split(b" ", 2)
                length = 0
                keep_alive = True
                auth = False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        keep_alive = False
                    elif name == b"authorization" and value.strip().startswith(b"Bearer "):
                        auth = True
                body = await reader.readexactly(length) if length else b""
                status, payload = self.answer(method, target, body, auth)
                if status == HELD:
                    self.holding += 1
                    try:
                        await asyncio.sleep(self.hold_seconds)
                    finally:
                        self.holding -= 1
                    status, payload = 500, _error(131000, "Error")
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"Connection: %s\r\n\r\n%s"
                    % (
                        status,
                        b"OK" if status == 200 else b"Error",
                        len(payload),
                        b"keep-alive" if keep_alive else b"close",
                        payload,
                    )
                )
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except ValueError:  # a garbled request line
            pass
        finally:
            writer.close()

    def answer(self, method: bytes, target: bytes, body: bytes, auth: bool) -> tuple[int, bytes]:
        path, _, query = target.partition(b"?")
        if path.startswith(b"/__bench/"):
            return self.control(method, path, query)
        match = SEND_PATH.match(path)
        if method != b"POST" or match is None:
            self.recorder.other += 1
            return 400, _error(100, "Invalid parameter")
        if not auth:
            return 401, _error(190, "Invalid OAuth access token")
        if self.hold_left > 0:
            self.hold_left -= 1
            self.refused += 1
            return HELD, b""
        if self.fail_left > 0:
            self.fail_left -= 1
            self.refused += 1
            code = 130429 if self.fail_status == 429 else 131000
            return self.fail_status, _error(code, "Rate limit hit" if code == 130429 else "Error")
        try:
            doc = json.loads(body)
        except ValueError:
            return 400, _error(100, "Invalid parameter")
        if doc.get("status") == "read":
            self.recorder.reads += 1
            return 200, b'{"success":true}'
        to = str(doc.get("to") or doc.get("recipient") or "")
        digits = NOT_DIGITS.sub("", to) or to
        who = "wa_id" if doc.get("to") else "user_id"
        self.recorder.sends.append(
            (
                time.time(),
                digits,
                match["pnid"].decode(),
                str(doc.get("type", "")),
                _text_of(doc),
            )
        )
        wamid = f"wamid.BENCH{self._tag}{next(self._ids):012d}"
        return 200, (
            b'{"messaging_product":"whatsapp","contacts":[{"input":%s,"%s":%s}],'
            b'"messages":[{"id":"%s"}]}'
            % (
                json.dumps(to).encode(),
                who.encode(),
                json.dumps(digits if who == "wa_id" else to).encode(),
                wamid.encode(),
            )
        )

    def control(self, method: bytes, path: bytes, query: bytes) -> tuple[int, bytes]:
        if path == b"/__bench/reset" and method == b"POST":
            self.recorder.reset()
            return 200, b'{"ok":true}'
        if path == b"/__bench/latency" and method == b"POST":
            # ?ms=150: answer every later request that much later (Meta's own answer time).
            for part in query.split(b"&"):
                if part.startswith(b"ms="):
                    self.latency = float(part[3:] or 0) / 1000
            return 200, json.dumps({"latency_ms": self.latency * 1000}).encode()
        if path == b"/__bench/fail" and method == b"POST":
            for part in query.split(b"&"):
                name, _, value = part.partition(b"=")
                if name == b"status":
                    self.fail_status = int(value or 500)
                elif name == b"n":
                    self.fail_left = int(value or 0)
            return 200, json.dumps({"status": self.fail_status, "n": self.fail_left}).encode()
        if path == b"/__bench/hold" and method == b"POST":
            for part in query.split(b"&"):
                name, _, value = part.partition(b"=")
                if name == b"s":
                    self.hold_seconds = float(value or 0)
                elif name == b"n":
                    self.hold_left = int(value or 0)
            return 200, json.dumps({"s": self.hold_seconds, "n": self.hold_left}).encode()
        if path == b"/__bench/stats":
            since = 0
            for part in query.split(b"&"):
                if part.startswith(b"since="):
                    since = int(part[6:] or 0)
            doc = {
                "sends": self.recorder.sends[since:],
                "total": len(self.recorder.sends),
                "reads": self.recorder.reads,
                "other": self.recorder.other,
                "refused": self.refused,
                "holding": self.holding,
            }
            return 200, json.dumps(doc).encode()
        return 404, _error(100, "Unknown control path")


def _error(code: int, title: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": f"(#{code}) {title}",
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": "Abench",
            }
        }
    ).encode()


async def serve(fake: FakeGraph, port: int, ready: callable | None = None) -> None:
    server = await asyncio.start_server(fake.handle, "127.0.0.1", port, backlog=1024, limit=1 << 20)
    actual = server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(actual, server)
    async with server:
        await server.serve_forever()


class FakeGraphServer:
    """The fake in a background thread of this process (tests, quick checks)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.fake = FakeGraph(latency=latency)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakegraph", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()

        def ready(port, server):
            self.port, self._server = port, server
            self._started.set()

        try:
            self._loop.run_until_complete(serve(self.fake, 0, ready))
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def start(self) -> FakeGraphServer:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake graph did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeGraph(latency=args.latency_ms / 1000)

    def ready(port, _server):
        print(f"READY {port}", flush=True)

    try:
        asyncio.run(serve(fake, args.port, ready))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
