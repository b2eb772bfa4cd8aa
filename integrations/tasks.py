"""Event webhook tasks: thin. Deliveries run on the `bulk` queue (the `bulk_` prefix routes
them, config/celery.py), never on the reply path; the sweeper runs every minute
(config/schedule.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.tasks.bulk_webhook_deliver", bind=True, acks_late=True)
def bulk_webhook_deliver(self, delivery_id: int) -> str | None:
    """One attempt; the next one is queued with the backoff's countdown. Eager runs (tests,
    the embedded mode) leave retries to the sweeper, which runs them when they are due."""
    from integrations import services

    outcome = services.delivery_attempt(delivery_id=delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in and not self.request.is_eager:
        services.delivery_queue(delivery_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="integrations.tasks.bulk_webhook_sweep")
def bulk_webhook_sweep() -> int:
    from integrations import services

    return services.deliveries_sweep()
