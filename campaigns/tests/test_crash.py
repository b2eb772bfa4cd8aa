"""A campaign worker killed with SIGKILL mid-run, then run again: each customer is messaged
exactly once (Meta's log on the fake Graph API says so), and the counts match that log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import services, stats
from campaigns.models import Campaign, CampaignRecipient
from clientes.models import Cliente
from tests.factories import ChatbotFactory, MessageTemplateFactory, TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)

N, BATCH = 60, 10

# The worker: the real campaign_run in its own process, each batch's sends slowed (50 ms a
# customer, once its outbox rows are written) so that the kill lands inside a batch's
# transaction. Its outbox tasks go to an in-memory broker (lost with the process, as a real
# worker's unacknowledged work would be); the sweeper sends the rows.
WORKER = """
import os, sys, time
import django
django.setup()
from config.celery import app
app.conf.broker_url = "memory://"
from campaigns import services
real = services.outbox.send_to_customers
def slow(**kwargs):
    rows = real(**kwargs)
    time.sleep(0.05 * len(rows))
    return rows
services.outbox.send_to_customers = slow
services.campaign_run(campaign_id=int(sys.argv[1]), batch=int(sys.argv[2]))
"""


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _sent() -> int:
    return CampaignRecipient.objects.filter(status=CampaignRecipient.Status.SENT).count()


def _started_campaign(tier: str) -> tuple[Campaign, list[Cliente]]:
    """A started campaign of N customers on a number of Meta's `tier`."""
    tenant = TenantFactory()
    bot = ChatbotFactory(tenant=tenant, messaging_limit_tier=tier)
    bot.messages_per_second = 1000
    bot.save(update_fields=["messages_per_second"])
    promo = MessageTemplateFactory(chatbot=bot, name="promo", category="MARKETING")
    people = Cliente.objects.bulk_create(
        [Cliente(tenant=tenant, nome=f"C{i}", telefone=f"5511970{i:06d}") for i in range(N)]
    )
    campaign = services.campaign_create(
        tenant=tenant, chatbot=bot, name="Maio", variants=[{"template": promo}]
    )
    services.campaign_start(campaign=campaign)
    return campaign, people


def _restart(campaign: Campaign, on_commit) -> None:
    """The restart: the task comes back (acks_late) and the sweeper finds the queued rows."""
    from chatbots.outbox.tasks import sweep_outbound

    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        with on_commit(execute=True):
            services.campaign_run(campaign_id=campaign.pk, batch=BATCH)
        with on_commit(execute=True):
            sweep_outbound()


def _kill_mid_run(campaign: Campaign) -> int:
    """Run the campaign in a worker process, SIGKILL it after two batches; rows sent by then."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(campaign.pk), str(BATCH)], cwd=settings.BASE_DIR, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while _sent() < 2 * BATCH:
            assert worker.poll() is None, "the worker ended before it was killed"
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    killed_at = _sent()
    assert 2 * BATCH <= killed_at
    assert killed_at % BATCH == 0  # a batch and its outbox rows commit together, or not at all
    return killed_at


def test_a_worker_killed_mid_run_then_restarted_messages_everyone_exactly_once(
    fake_graph, celery_eager, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)  # the workers below run it
    campaign, people = _started_campaign("TIER_UNLIMITED")

    killed_at = _kill_mid_run(campaign)
    assert killed_at < N
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.RUNNING

    _restart(campaign, django_capture_on_commit_callbacks)

    to = Counter(r.json["to"] for r in fake_graph.sends)
    assert set(to) == {f"+{c.telefone}" for c in people}
    assert max(to.values()) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert stats.campaign_numbers(campaign=campaign)["sent"] == len(fake_graph.sends) == N


def test_a_worker_killed_in_a_tiers_first_window_sends_the_rest_in_the_next_window_once(
    fake_graph, celery_eager, django_capture_on_commit_callbacks, monkeypatch
):
    """Meta's tier of 50 unique customers a day, 60 customers, the worker killed mid-run: the
    restart fills the window's 50, the next window the other 10, each customer once."""
    from campaigns import tasks
    from chatbots.outbox.tasks import sweep_outbound

    monkeypatch.setattr(services, "_enqueue", lambda pk: None)  # the workers below run it
    campaign, people = _started_campaign("TIER_50")

    assert _kill_mid_run(campaign) < 50

    _restart(campaign, django_capture_on_commit_callbacks)
    assert len(fake_graph.sends) == 50  # the tier's window, the killed run's sends included
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.WAITING

    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=10), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.bulk_campaigns_due()
        with django_capture_on_commit_callbacks(execute=True):
            sweep_outbound()

    to = Counter(r.json["to"] for r in fake_graph.sends)
    assert set(to) == {f"+{c.telefone}" for c in people}
    assert max(to.values()) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    assert stats.campaign_numbers(campaign=campaign)["sent"] == len(fake_graph.sends) == N
