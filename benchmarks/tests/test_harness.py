"""The benchmark harness itself, in-process and for about a second (no gunicorn, no Celery):
the load generator signs and paces real-shaped webhooks, a stand-in bot answers them through
the fake Graph API, and the harness pairs every message with its reply."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks import load, menu
from benchmarks.fakegraph import FakeGraphServer
from benchmarks.scenarios.e2e import match_replies

SECRET = "harness-secret"
PNID = "100000001"


class _Bot(BaseHTTPRequestHandler):
    """Checks the signature, then replies like the menu flow: a menu to "oi"/"menu", the
    hours text to a tap."""

    protocol_version = "HTTP/1.1"
    graph_url = ""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", "")):
            self._answer(401)
            return
        value = json.loads(body)["entry"][0]["changes"][0]["value"]
        message = value["messages"][0]
        if message["type"] == "text":
            reply = {"type": "interactive", "interactive": {"body": {"text": "Olá!"}}}
        else:
            reply = {"type": "text", "text": {"body": "Atendemos de segunda a sábado."}}
        request = urllib.request.Request(
            f"{self.graph_url}/v23.0/{value['metadata']['phone_number_id']}/messages",
            data=json.dumps({"to": message["from"], **reply}).encode(),
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).read()
        self._answer(200)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def graph():
    server = FakeGraphServer().start()
    yield server
    server.stop()


@pytest.fixture
def bot(graph):
    _Bot.graph_url = graph.url
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bot)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _stats(graph: FakeGraphServer) -> dict:
    with urllib.request.urlopen(f"{graph.url}/__bench/stats?since=0", timeout=5) as resp:
        return json.loads(resp.read())


def test_every_message_is_paired_with_its_reply_at_an_offered_rate(graph, bot):
    items = menu.menu_conversations(PNID, SECRET, tag="smk001", count=40)

    run = load.run_load(port=bot, items=items, rate=40, time_limit=2, connections=4)
    deadline = time.monotonic() + 5
    while len(_stats(graph)["sends"]) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    figures = match_replies(run, _stats(graph)["sends"], PNID)

    assert load.summary(run)["ok"] == 40
    assert 0.9 < run.elapsed < 3  # paced at 40/s, not sent all at once
    assert (figures["replied"], figures["lost"], figures["duplicated"], figures["wrong"]) == (
        40,
        0,
        0,
        0,
    )
    assert 0 < figures["e2e_p50"] <= figures["e2e_p99"] < 2000


def test_a_missing_reply_counts_as_lost_and_an_extra_one_as_duplicated(graph, bot):
    items = menu.menu_conversations(PNID, SECRET, tag="smk002", count=8)
    run = load.run_load(port=bot, items=items, concurrency=2, time_limit=5)
    time.sleep(0.3)
    sends = _stats(graph)["sends"]

    lost = match_replies(run, sends[1:], PNID)
    doubled = match_replies(run, [*sends, sends[0]], PNID)

    assert (lost["lost"], lost["duplicated"]) == (1, 0)
    assert (doubled["lost"], doubled["duplicated"]) == (0, 1)


def test_a_wrong_signature_is_refused_and_nothing_reaches_the_graph_api(graph, bot):
    items = menu.menu_conversations(PNID, "not-the-secret", tag="smk003", count=3)

    run = load.run_load(port=bot, items=items, concurrency=1, time_limit=5)

    assert [r.status for r in run.results] == [401, 401, 401]
    assert _stats(graph)["sends"] == []


def test_the_generator_refuses_to_target_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        load.run_load(port=80, host="10.0.0.1", items=[], concurrency=1)


def _ingest_figures(publish_us: float) -> tuple[dict, dict, dict]:
    floor = {"rps": 4000.0, "cpu_total": 0.5}
    ingest = {"rps": 1000.0, "cpu_total": 2.0, "cpu_postgres": 0.25}
    pieces = {"publish_us": publish_us, "insert_us": 150.0, "signature_us": 2.0, "parse_us": 8.0}
    return ingest, floor, pieces


def test_the_ingest_note_says_the_budget_is_gone_only_when_the_timed_steps_exceed_it():
    from benchmarks.report_targets import _ingest_bound

    over = _ingest_bound(*_ingest_figures(publish_us=300.0))  # 0.46 + 0.25 > 0.5
    under = _ingest_bound(*_ingest_figures(publish_us=10.0))  # 0.17 + 0.25 < 0.5

    assert "0.71 ms, more than the whole budget" in over
    assert "must not do" in over
    assert "0.42 ms, 84 % of the budget" in under
    assert "must not do" not in under
