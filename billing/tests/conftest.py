"""Fixtures of the billing tests: plans, subscriptions, and driving usage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import metering
from billing.models import DailyUsage, Plan, Subscription
from billing.services import subscription_start


@pytest.fixture
def plan(db):
    return Plan.objects.create(
        name="Essencial",
        max_messages_per_month=10,
        max_chatbots=2,
        max_staff=5,
        ai_enabled=True,
        max_ai_tokens_per_month=1000,
    )


@pytest.fixture
def subscription(tenant, plan) -> Subscription:
    sub = subscription_start(tenant=tenant, plan=plan)
    # A clean monthly period that started yesterday, so "today" is inside it.
    start = timezone.now() - timedelta(days=1)
    Subscription.objects.filter(pk=sub.pk).update(
        current_period_start=start, current_period_end=start + timedelta(days=30)
    )
    sub.refresh_from_db()
    return sub


def usage_today(tenant, **counts) -> DailyUsage:
    """Put usage straight in today's row (as a flush would have)."""
    row, _ = DailyUsage.objects.get_or_create(tenant=tenant, day=timezone.localdate())
    for name, value in counts.items():
        setattr(row, name, value)
    row.save()
    return row


def totals(tenant) -> dict:
    rows = DailyUsage.objects.filter(tenant=tenant)
    return {
        "messages_in": sum(r.messages_in for r in rows),
        "messages_out": sum(r.messages_out for r in rows),
        "ai_tokens": sum(r.ai_tokens for r in rows),
    }


@pytest.fixture
def flush(django_capture_on_commit_callbacks):
    """Run the periodic flush as beat would, committing its after-commit work."""

    def _flush():
        from billing import tasks

        with django_capture_on_commit_callbacks(execute=True):
            return tasks.flush_usage()

    return _flush


@pytest.fixture
def record(django_capture_on_commit_callbacks):
    """metering.record as the message path calls it, inside a committed transaction."""

    def _record(tenant, **counts):
        with django_capture_on_commit_callbacks(execute=True):
            metering.record(tenant_id=tenant.pk, **counts)

    return _record
