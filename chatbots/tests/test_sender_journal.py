"""A sender that dies between its claim and its record (chatbots.outbox.journal): another
sender takes the claim over within seconds; what the provider answered is recorded as sent,
what was in flight is `send_interrupted`, what never started goes once, in order; a live
sender's claim is never taken."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from chatbots.models import Message
from chatbots.outbox import journal, sending, wake
from chatbots.outbox.sender import Sender
from chatbots.providers.meta import MetaProvider
from chatbots.tests.test_sender import bot, open_conversation, queued  # noqa: F401

pytestmark = pytest.mark.django_db


class Died(BaseException):
    """The process is gone: nothing after it runs (no handler catches a BaseException)."""


@pytest.fixture
def redis_client():
    client = wake.client()
    if client is None:
        pytest.skip("needs Redis")
    return client


def dies_on_send(monkeypatch, number):
    """The sender process "dies" during its `number`-th HTTP call to Meta."""
    real, calls = MetaProvider.send, []

    def send(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise Died
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MetaProvider, "send", send)


def bodies(fake_graph):
    return [r.json["text"]["body"] for r in fake_graph.sends]


def kill(sender):
    """What a SIGKILL leaves: its alive key expires, its journal stays."""
    sender.journal.client.delete(journal.alive_key(sender.journal.sender_id))


def test_a_dead_senders_claim_is_answered_interrupted_or_requeued_and_sent_once_in_order(
    bot,  # noqa: F811
    fake_graph,
    monkeypatch,
    redis_client,
):
    first = open_conversation(bot, "5511900000011")
    second = open_conversation(bot, "5511900000012")
    one, two, three = queued(first, "um", "dois", "três")
    (other,) = queued(second, "outro")
    dead = Sender(batch=20, threads=1)
    dies_on_send(monkeypatch, 2)  # "um" answered, "dois" in flight, the rest never started
    with pytest.raises(Died):
        dead.run_once()
    monkeypatch.undo()
    kill(dead)
    assert bodies(fake_graph) == ["um"]

    heir = Sender(batch=20, threads=1)
    assert heir.recovery.run(now=100.0) == 0  # first seen missing: not yet dead
    assert heir.recovery.run(now=100.0 + journal.CONFIRM_SECONDS) == 4
    wamid = fake_graph.sends[0].response["messages"][0]["id"]
    row = Message.objects.get(pk=one.pk)
    assert (row.status, row.provider_message_id, row.attempts) == ("sent", wamid, 1)
    row = Message.objects.get(pk=two.pk)
    assert (row.status, row.error_code) == ("failed", sending.SEND_INTERRUPTED)
    assert [Message.objects.get(pk=r.pk).status for r in (three, other)] == ["queued", "queued"]

    heir.run_once()

    assert sorted(bodies(fake_graph)) == sorted(["um", "três", "outro"])  # each once
    assert [Message.objects.get(pk=r.pk).status for r in (three, other)] == ["sent", "sent"]
    assert heir.recovery.run(now=1000.0) == 0  # the journal is gone with its sender
    assert Message.objects.filter(status="sending").count() == 0
    heir.close()


def test_a_sender_dead_after_its_sends_but_before_their_record_leaves_them_sent(
    bot,  # noqa: F811
    fake_graph,
    monkeypatch,
    redis_client,
):
    """Each answer rides with the thread's next send mark; the last one of a thread's share
    is written when the share ends, before the outcomes are recorded."""
    from chatbots.outbox import sender as sender_module

    rows = queued(open_conversation(bot, "5511900000014"), "um", "dois")
    dead = Sender(batch=20, threads=1)

    def dies(_results):
        raise Died

    monkeypatch.setattr(sender_module, "record", dies)
    with pytest.raises(Died):
        dead.run_once()
    monkeypatch.undo()
    kill(dead)

    heir = Sender(batch=20, threads=1)
    heir.recovery.run(now=100.0)
    assert heir.recovery.run(now=100.0 + journal.CONFIRM_SECONDS) == 2
    wamids = [r.response["messages"][0]["id"] for r in fake_graph.sends]
    assert [
        (m.status, m.provider_message_id) for m in (Message.objects.get(pk=r.pk) for r in rows)
    ] == [("sent", wamids[0]), ("sent", wamids[1])]
    assert bodies(fake_graph) == ["um", "dois"]  # each once
    heir.close()


def test_a_live_senders_claim_is_never_taken_however_slow(
    bot,  # noqa: F811
    fake_graph,
    monkeypatch,
    redis_client,
):
    conversation = open_conversation(bot, "5511900000013")
    rows = queued(conversation, "um", "dois")
    slow = Sender(batch=20, threads=1)
    dies_on_send(monkeypatch, 1)  # stands for a call still waiting on Meta
    with pytest.raises(Died):
        slow.run_once()
    monkeypatch.undo()

    other = Sender(batch=20, threads=1)
    for now in (100.0, 200.0, 300.0):
        slow.journal.beat()  # its own thread renews the key while the call waits
        assert other.recovery.run(now=now) == 0
    assert [Message.objects.get(pk=r.pk).status for r in rows] == ["sending", "sending"]
    assert other.run_once() == 0
    assert fake_graph.sends == []
    slow.close()
    other.close()


def test_without_a_journal_the_lease_rule_still_applies(
    bot,  # noqa: F811
    fake_graph,
    monkeypatch,
    redis_client,
):
    conversation = open_conversation(bot, "5511900000014")
    (row,) = queued(conversation, "um")
    dead = Sender(batch=20, threads=1)
    dies_on_send(monkeypatch, 1)
    with pytest.raises(Died):
        dead.run_once()
    monkeypatch.undo()
    kill(dead)
    redis_client.delete(dead.journal.key)  # e.g. Redis lost it in a restart

    heir = Sender(batch=20, threads=1)
    heir.recovery.run(now=0.0)
    assert heir.recovery.run(now=journal.CONFIRM_SECONDS) == 0
    assert Message.objects.get(pk=row.pk).status == "sending"  # the sweeper decides later
    with time_machine.travel(timezone.now() + 2 * sending.SENDING_LEASE):
        sending.sweep()
    assert Message.objects.get(pk=row.pk).error_code == sending.SEND_INTERRUPTED
    heir.close()


@pytest.mark.django_db(transaction=True)
def test_run_sender_killed_with_sigkill_while_meta_holds_a_send(
    bot,  # noqa: F811
    fake_graph,
    redis_client,
):
    """The real process, SIGKILLed while Meta holds its second request: the answered send
    is recorded, the held one is interrupted, the one never started goes once, after it."""
    from chatbots.tests.test_sender_process import _database_url, reply, wait_for

    conversation = open_conversation(bot, "5511900000015")
    rows = reply(conversation, "um", "dois", "três")
    fake_graph.delay_next(0)  # "um": answered at once
    fake_graph.delay_next(15)  # "dois": held while the process dies
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "WHATSAPP_GRAPH_API_URL": fake_graph.url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sender", "--threads", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: len(fake_graph.sends) == 2, seconds=30)
    finally:
        process.kill()
        process.wait()
    # Its alive key would run out within journal.ALIVE_TTL seconds; here it goes at once.
    for member in redis_client.smembers(journal.registry_key()):
        redis_client.delete(journal.alive_key(member.decode()))

    heir = Sender(batch=20, threads=1)
    heir.recovery.run(now=0.0)
    assert heir.recovery.run(now=journal.CONFIRM_SECONDS) == 3
    first, second, third = (Message.objects.get(pk=r.pk) for r in rows)
    assert (first.status, first.provider_message_id) == (
        "sent",
        fake_graph.sends[0].response["messages"][0]["id"],
    )
    assert (second.status, second.error_code) == ("failed", sending.SEND_INTERRUPTED)
    assert third.status == "queued"

    heir.run_once()

    assert bodies(fake_graph) == ["um", "dois", "três"]
    assert Message.objects.get(pk=third.pk).status == "sent"
    heir.close()
