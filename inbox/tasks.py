"""Periodic jobs of the inbox (thin: one service call each, as a system actor)."""

from __future__ import annotations

from celery import shared_task

from compliance.audit import acting_as, system_actor


@shared_task(name="inbox.tasks.bulk_waiting_timeouts")
def bulk_waiting_timeouts() -> int:
    """Every minute: tickets waiting past their queue's limit go back to the bot or get the
    queue's message (inbox.waits)."""
    from inbox import waits

    with acting_as(system_actor("inbox.timeouts")):
        return waits.waiting_timeouts_run()
