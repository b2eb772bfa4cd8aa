"""The fault suite's harness (benchmarks/chaos.py), in-process: a webhook answered 500 is
sent again as Meta does, and a customer's replies are judged in the order the messages were
accepted; the fake Graph API's hang holds sends past a client's timeout."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from benchmarks import chaos, load, menu
from benchmarks.fakegraph import FakeGraphServer
from benchmarks.scenarios.e2e import match_replies
from benchmarks.tests.test_harness import PNID, SECRET, _Bot, _stats


class _OutageBot(_Bot):
    """A 500 to the first delivery of messages 1, 5 and 9 (PostgreSQL away), then the bot."""

    seen: set[bytes] = set()

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        number = int(json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["id"][-7:])
        if number % 4 == 1 and body not in self.seen:
            self.seen.add(body)
            self._answer(500)
            return
        connection, self.rfile = self.rfile, io.BytesIO(body)  # the bot reads the body again
        try:
            super().do_POST()
        finally:
            self.rfile = connection


@pytest.fixture
def graph():
    server = FakeGraphServer().start()
    yield server
    server.stop()


@pytest.fixture
def outage_bot(graph):
    _OutageBot.graph_url = graph.url
    _OutageBot.seen = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OutageBot)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_webhooks_answered_500_are_sent_again_and_none_counts_as_lost(graph, outage_bot):
    items = menu.menu_conversations(PNID, SECRET, tag="chs001", count=12, per_customer=4)
    run = load.run_load(port=outage_bot, items=items, concurrency=2, time_limit=5)
    assert len(run.ok) == 9  # three customers each had one message refused the first time

    resent = chaos.resend_refused(outage_bot, items, run)
    deadline = time.monotonic() + 5
    while len(_stats(graph)["sends"]) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    figures = match_replies(
        chaos.first_answers(run), _stats(graph)["sends"], PNID, by_acceptance=True
    )

    assert resent == 3
    assert (figures["replied"], figures["lost"], figures["duplicated"]) == (12, 0, 0)
    # Answered in the order accepted, the late ones last: not out of order by that measure,
    # though out of order by the customers' typing order.
    assert figures["wrong"] == 0
    # Messages 1 and 5 were their customers' first and second, accepted after later ones; 9 was
    # its customer's last, so that order stands.
    assert figures["reordered_customers"] == 2
    by_seq = match_replies(chaos.first_answers(run), _stats(graph)["sends"], PNID)
    assert by_seq["wrong"] > 0


def test_the_fake_graph_api_hangs_the_next_sends_past_a_clients_timeout(graph):
    chaos.stack.http_json(f"{graph.url}/__bench/hold?s=1&n=1", {})
    request = urllib.request.Request(
        f"{graph.url}/v23.0/{PNID}/messages",
        data=json.dumps({"to": "5511999990000", "type": "text", "text": {"body": "oi"}}).encode(),
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.5)
    with urllib.request.urlopen(request, timeout=5) as resp:  # the next one goes through
        assert resp.status == 200
    stats = _stats(graph)
    assert (len(stats["sends"]), stats["refused"]) == (1, 1)
    deadline = time.monotonic() + 5  # the held one ends before the server stops
    while _stats(graph)["holding"] and time.monotonic() < deadline:
        time.sleep(0.05)
