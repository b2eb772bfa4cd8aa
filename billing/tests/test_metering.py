"""Metering: exact counts with many workers, flushes that crash, and no Redis at all."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing import metering
from billing.models import DailyUsage, UsageFlush
from billing.tests.conftest import totals
from tests.concurrency import run_at_once
from tests.factories import TenantFactory

WORKERS = 6
PER_WORKER = 150


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_with_many_workers_and_flushes_in_between(tenant, other_tenant):
    done = threading.Event()

    def worker(n):
        def run():
            for i in range(PER_WORKER):
                target = tenant if (i + n) % 3 else other_tenant
                metering.record(tenant_id=target.pk, messages_in=1, messages_out=2, ai_tokens=7)
                if i % 50 == 49:
                    metering.flush()  # a flush while the other workers keep counting

        return run

    def flusher():
        try:
            while not done.is_set():
                metering.flush()
        finally:
            connection.close()

    workers = [worker(n) for n in range(WORKERS)]
    flushers = [flusher, flusher]  # two beat ticks overlapping, the worst case

    threads = [threading.Thread(target=f) for f in flushers]
    for t in threads:
        t.start()
    try:
        run_at_once(workers)
    finally:
        done.set()
        for t in threads:
            t.join(60)
    metering.flush()  # what the last tick takes

    both = totals(tenant)["messages_in"] + totals(other_tenant)["messages_in"]
    assert both == WORKERS * PER_WORKER
    assert totals(tenant)["messages_out"] + totals(other_tenant)["messages_out"] == 2 * both
    assert totals(tenant)["ai_tokens"] + totals(other_tenant)["ai_tokens"] == 7 * both
    mine = sum(1 for n in range(WORKERS) for i in range(PER_WORKER) if (i + n) % 3)
    assert totals(tenant)["messages_in"] == mine
    assert DailyUsage.objects.filter(tenant=tenant).count() == 1
    assert UsageFlush.objects.count() > WORKERS  # the counts went over in many batches
    # Nothing is left behind in Redis.
    client = metering.redis_client()
    assert not client.smembers(metering.DIRTY) and not client.smembers(metering.BATCHES)


@pytest.mark.django_db(transaction=True)
def test_counters_survive_a_flush_that_crashes_before_its_commit(tenant, monkeypatch):
    for _ in range(5):
        metering.record(tenant_id=tenant.pk, messages_in=1)
    original = metering._add_to_day
    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("worker killed mid-flush")

    monkeypatch.setattr(metering, "_add_to_day", crash)
    with pytest.raises(RuntimeError):
        metering.flush()
    assert not DailyUsage.objects.exists()  # rolled back: nothing half-added

    metering.record(tenant_id=tenant.pk, messages_in=1)  # counted while it was down
    monkeypatch.setattr(metering, "_add_to_day", original)
    metering.flush()

    assert totals(tenant)["messages_in"] == 6


@pytest.mark.django_db(transaction=True)
def test_a_flush_that_crashes_after_its_commit_is_not_counted_twice(tenant, monkeypatch):
    for _ in range(4):
        metering.record(tenant_id=tenant.pk, messages_out=1, ai_tokens=10)
    original = metering._forget_batch

    def crash(client, batch_id):
        raise ConnectionError("Redis went away before the batch was deleted")

    monkeypatch.setattr(metering, "_forget_batch", crash)
    with pytest.raises(ConnectionError):
        metering.flush()
    assert totals(tenant)["messages_out"] == 4  # committed

    monkeypatch.setattr(metering, "_forget_batch", original)
    metering.record(tenant_id=tenant.pk, messages_out=1)
    metering.flush()  # finds the applied batch, forgets it without adding it again
    metering.flush()

    assert totals(tenant) == {"messages_in": 0, "messages_out": 5, "ai_tokens": 40}
    assert UsageFlush.objects.count() == 2
    assert not metering.redis_client().smembers(metering.BATCHES)


def test_a_count_made_in_a_transaction_that_rolls_back_is_not_made(tenant, record, flush):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            metering.record(tenant_id=tenant.pk, messages_in=1)
            raise Boom
    record(tenant, messages_in=1)
    flush()

    assert totals(tenant)["messages_in"] == 1


def test_a_batch_of_counts_goes_to_redis_in_one_pipeline_at_commit(
    tenant, other_tenant, flush, monkeypatch, django_capture_on_commit_callbacks
):
    """The processor counts a whole batch of turns at once (metering.batched)."""
    pipelines = []
    client = metering.redis_client()
    original = client.pipeline

    def pipeline(*args, **kwargs):
        pipelines.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(client, "pipeline", pipeline)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic(), metering.batched():
            for _ in range(30):
                metering.record(tenant_id=tenant.pk, messages_in=1)
            metering.record(tenant_id=other_tenant.pk, messages_in=2, ai_tokens=7)
    assert len(pipelines) == 1

    class Boom(Exception):
        pass

    with pytest.raises(Boom), django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic(), metering.batched():
            metering.record(tenant_id=tenant.pk, messages_in=100)
            raise Boom  # the batch rolled back: none of it is counted
    monkeypatch.setattr(client, "pipeline", original)
    flush()

    assert totals(tenant)["messages_in"] == 30
    assert totals(other_tenant)["messages_in"] == 2
    assert totals(other_tenant)["ai_tokens"] == 7


def test_the_daily_row_carries_the_estimated_cost(tenant, record, flush, settings):
    settings.BILLING_COST_PER_MESSAGE = "0.05"
    settings.BILLING_COST_PER_THOUSAND_TOKENS = "0.002"
    record(tenant, messages_in=3, messages_out=7, ai_tokens=2500)
    flush()
    record(tenant, messages_out=10)
    flush()

    row = DailyUsage.objects.get(tenant=tenant)
    assert row.day == timezone.localdate()
    # 20 messages × 0.05 + 2.5 thousand tokens × 0.002
    assert row.estimated_cost == Decimal("1.0050")


def test_numbers_not_yet_flushed_are_already_visible(tenant, record):
    record(tenant, messages_in=2, ai_tokens=5)
    today = timezone.localdate()
    usage = metering.usage_between(tenant_id=tenant.pk, first_day=today, last_day=today)
    assert (usage.messages_in, usage.ai_tokens) == (2, 5)


@pytest.mark.django_db(transaction=True)
def test_without_redis_every_worker_adds_to_the_database_row(tenant, settings):
    settings.REDIS_URL = ""  # the embedded mode
    targets = [lambda: [metering.record(tenant_id=tenant.pk, messages_in=1) for _ in range(40)]] * 4

    run_at_once(targets)

    assert totals(tenant)["messages_in"] == 160
    assert metering.flush() == {tenant.pk}  # so the flush task checks its alerts


@pytest.mark.django_db(transaction=True)
def test_a_tenant_deleted_before_the_flush_does_not_block_the_others(tenant):
    gone = TenantFactory(slug="fechou")
    metering.record(tenant_id=gone.pk, messages_in=3)
    metering.record(tenant_id=tenant.pk, messages_in=2)
    gone.delete()

    assert metering.flush() == {tenant.pk}
    assert totals(tenant)["messages_in"] == 2
