"""The fault suite's short form, in the test command: the real `manage.py run_processor` and
`run_sender` on the test database and the fake Graph API (tests/fakes/graph.py), 40 messages
from 10 customers; the processor is SIGKILLed mid-burst and started again, and the Graph API
answers a storm of 503s. Every customer gets each reply once, in order. `make chaos`
(benchmarks/chaos.py) is the full suite on the production stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import ChatbotFactory, InboundEventFactory

CUSTOMERS = 10
SAID = ["oi", "1", "menu", "1"]  # the menu, its first option, the menu again, the option again


def _env(fake_graph) -> dict[str, str]:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WHATSAPP_GRAPH_API_URL": fake_graph.url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def _spawn(command: str, env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", command, "--poll", "0.2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _answered(fake_graph, phone: str) -> list[str]:
    """What the customer received, in the order the Graph API took it."""
    return [
        _shape(r.json)
        for r in fake_graph.sends
        if r.status == 200 and r.json.get("to", "").endswith(phone[-8:])
    ]


def _shape(body: dict) -> str:
    kind = body.get("type", "")
    if kind == "text":
        return "text:" + body["text"]["body"][:40]
    if kind == "interactive":
        inner = body["interactive"]
        return "interactive:" + str(inner.get("body", {}).get("text", ""))[:40]
    return kind


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_killed_processor_and_a_graph_503_storm_lose_duplicate_and_reorder_no_reply(
    tenant, fake_graph, tmp_path
):
    bot = ChatbotFactory(
        tenant=tenant,
        provider="meta",
        flow="menu",
        phone_number_id="106540352242933",
        access_token="EAAG-tk",
        options={"debounce_ms": 0},
    )
    phones = [f"55119700{n:05d}" for n in range(CUSTOMERS)]
    t0 = time.time() - 60  # the customers wrote a minute ago: inside the 24-hour window
    env = _env(fake_graph)
    log = (tmp_path / "processes.log").open("w")
    fake_graph.fail_next(code=131000, status=503, times=12)  # the storm meets the first sends
    sender = _spawn("run_sender", env, log)
    processor = _spawn("run_processor", env, log)
    try:
        for turn in range(2):  # the first half of the burst
            for phone in phones:
                InboundEventFactory(
                    chatbot=bot,
                    text=SAID[turn],
                    sender=phone,
                    occurred_at=datetime.fromtimestamp(t0 + turn, UTC),
                )
        # Killed mid-burst: some customers answered, others not yet.
        assert _wait_for(lambda: len(fake_graph.sends) >= 5, seconds=20), (
            tmp_path / "processes.log"
        ).read_text()[-3000:]
        processor.send_signal(signal.SIGKILL)
        processor.wait(10)
        for turn in range(2, len(SAID)):
            for phone in phones:
                InboundEventFactory(
                    chatbot=bot,
                    text=SAID[turn],
                    sender=phone,
                    occurred_at=datetime.fromtimestamp(t0 + turn, UTC),
                )
        processor = _spawn("run_processor", env, log)

        # Each message has one reply, so a customer is done after four.
        assert _wait_for(
            lambda: all(len(_answered(fake_graph, p)) >= len(SAID) for p in phones), seconds=25
        ), {p: _answered(fake_graph, p) for p in phones}
        time.sleep(0.5)  # a late duplicate would arrive now
    finally:
        for proc in (processor, sender):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (processor, sender):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    refused = [r for r in fake_graph.requests if r.status == 503]
    assert len(refused) == 12, "the storm met the sends and read receipts"
    assert any(r.is_send for r in refused)
    for phone in phones:
        got = _answered(fake_graph, phone)
        assert len(got) == len(SAID), (phone, got)  # none lost, none doubled
        menu, option = got[0], got[1]
        assert menu != option, got
        assert got == [menu, option, menu, option], (phone, got)  # in order
