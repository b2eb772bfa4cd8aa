"""The live benchmark's generator (benchmarks/live_clients.py) against a stand-in server, in
one process for a second or two: sockets with their cookies, webhooks at a steady rate, and
every event matched to its client and message. The stand-in checks the webhook's
signature and fans each message out to the sockets of its queue, like the staff app's
consumer; it can be told to lose an event or to drop a socket, which the figures must show."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from websockets.asyncio.server import serve

from benchmarks import live_clients, load
from benchmarks.live_clients import ClientSpec, Posted

SECRET = "live-harness-secret"
PNID = "300000000"


class StandIn:
    """A WebSocket server (queue from the cookie) and a webhook that publishes each message
    to its queue's sockets as `{"kind": "message", "data": {...}}`."""

    def __init__(self, queue_of_sender: dict[str, str]) -> None:
        self.queue_of_sender = queue_of_sender
        self.sockets: dict[str, list] = {}
        self.lose_for: set[tuple[int, str]] = set()  # (socket number, token) never sent
        self.drop_after: dict[int, int] = {}  # socket number -> close after n events
        self.sent: dict[int, int] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.numbers: dict[int, int] = {}

    async def handler(self, ws) -> None:
        cookie = ws.request.headers.get("Cookie", "")
        queue, _, number = cookie.removeprefix("sessionid=").partition(":")
        self.numbers[id(ws)] = int(number)
        self.sockets.setdefault(queue, []).append(ws)
        async for raw in ws:
            if json.loads(raw).get("action") == "ping":
                await ws.send(json.dumps({"kind": "pong", "data": {}}))

    def publish(self, sender: str, text: str) -> None:
        token = live_clients.find_token(text)
        for ws in list(self.sockets.get(self.queue_of_sender[sender], [])):
            number = self.numbers[id(ws)]
            if (number, token) in self.lose_for:
                continue
            self.sent[number] = self.sent.get(number, 0) + 1
            event = {"kind": "message", "data": {"conversation": 1, "text": text}}
            asyncio.ensure_future(ws.send(json.dumps(event)))
            if self.sent[number] == self.drop_after.get(number):
                asyncio.ensure_future(ws.close(code=1011))

    def http_handler(self):
        stand_in = self

        class Webhook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                status = 200
                if hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", "")):
                    message = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
                    stand_in.loop.call_soon_threadsafe(
                        stand_in.publish, message["from"], message["text"]["body"]
                    )
                else:
                    status = 401
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        return Webhook


def _scenario(clients: int = 5, messages: int = 12, queues: int = 2):
    senders = {f"551190000{q:04d}": f"q{q}" for q in range(queues)}
    specs = [
        ClientSpec(queue=f"q{i % queues}", headers={"Cookie": f"sessionid=q{i % queues}:{i}"})
        for i in range(clients)
    ]
    posted = []
    for i in range(messages):
        sender = list(senders)[i % queues]
        token = live_clients.token_for("t1", i)
        payload = load.text_payload(
            PNID, sender=sender, body=f"Oi {token}", mid=f"wamid.T.{i}", ts=1750000000 + i
        )
        item = load.item(payload, SECRET, key=sender, seq=i)
        posted.append(Posted(item=item, queue=senders[sender], token=token))
    return StandIn(senders), specs, posted


def _run(stand_in: StandIn, specs, posted, *, grace: float = 1.0) -> dict:
    http = ThreadingHTTPServer(("127.0.0.1", 0), stand_in.http_handler())
    threading.Thread(target=http.serve_forever, daemon=True).start()

    async def main():
        stand_in.loop = asyncio.get_running_loop()
        async with serve(stand_in.handler, "127.0.0.1", 0) as server:
            ws_port = server.sockets[0].getsockname()[1]
            return await live_clients.live_run(
                ws_url=f"ws://127.0.0.1:{ws_port}/ws/atendimento/",
                origin=f"http://127.0.0.1:{ws_port}",
                port=http.server_address[1],
                clients=specs,
                posted=posted,
                rate=40,
                time_limit=5,
                grace=grace,
                connect_rate=0,
                connections=4,
                cpu_probe=lambda: {"load generator": 0.0},
            )

    try:
        return live_clients.summary(asyncio.run(main()))
    finally:
        http.shutdown()
        http.server_close()


def test_every_client_gets_every_message_of_its_queue_and_only_those():
    stand_in, specs, posted = _scenario()

    s = _run(stand_in, specs, posted)

    assert s["connected"] == 5
    assert s["accepted"] == 12
    # 12 messages, half to each queue; queue 0 has 3 clients, queue 1 has 2: 6×3 + 6×2.
    assert s["expected"] == 30
    assert s["delivered"] == 30
    assert s["missed"] == 0
    assert s["dropped"] == 0
    assert s["duplicates"] == 0
    assert s["within_2s"] == 1.0
    assert 0 <= s["p50"] <= s["p95"] <= s["max"] < 2


def test_a_lost_event_and_a_dropped_socket_show_in_the_figures():
    stand_in, specs, posted = _scenario()
    stand_in.lose_for = {(0, posted[2].token)}  # client 0 is in q0, as message 2 is
    stand_in.drop_after = {1: 2}  # client 1 (q1) is closed after its second event

    s = _run(stand_in, specs, posted, grace=0.5)

    assert s["dropped"] == 1
    assert s["drop_reasons"] == {"closed 1011": 1}
    # Client 0 misses message 2; client 1 misses the 4 of its 6 that came after the drop.
    assert s["missed"] == 5
    assert s["delivered"] == 25


def test_a_webhook_the_server_refuses_is_not_expected_on_any_socket():
    stand_in, specs, posted = _scenario(clients=2, messages=4)
    bad = posted[1].item
    bad.signature = "sha256=" + "0" * 64

    s = _run(stand_in, specs, posted)

    assert s["statuses"] == {200: 3, 401: 1}
    assert s["accepted"] == 3
    assert s["missed"] == 0


@pytest.mark.parametrize(
    ("data", "token"),
    [
        ({"text": "Oi #live-r1-0000042"}, "#live-r1-0000042"),
        ({"message": {"preview": ["x", "#live-r1-0000007 ..."]}}, "#live-r1-0000007"),
        ({"text": "sem marca"}, ""),
    ],
)
def test_the_token_is_found_wherever_the_preview_is(data, token):
    assert live_clients.find_token(data) == token


def test_the_live_section_is_replaced_in_place_and_survives_a_full_rewrite(tmp_path):
    from benchmarks import report

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\n## 1. Floor\n\nfigures\n")

    report.write_live("## 7. Live\n\nfirst run", path=path)
    report.write_live("## 7. Live\n\nsecond run", path=path)
    assert path.read_text().count(report.LIVE_START) == 1
    assert "second run" in path.read_text() and "first run" not in path.read_text()
    assert path.read_text().startswith("# Benchmark results\n\n## 1. Floor")

    report.write("# Benchmark results\n\n## 1. Floor\n\nnew figures\n", path=path)
    text = path.read_text()
    assert "new figures" in text and "second run" in text
    assert text.index("new figures") < text.index(report.LIVE_START)
