"""Celery entry points on the `bulk` queue (config/celery.py routes `*.tasks.bulk_*`)."""

from __future__ import annotations

from celery import shared_task

from campaigns import scheduled, services, surveys


@shared_task(acks_late=True)
def bulk_campaign_run(campaign_id: int) -> int:
    # acks_late: a worker killed mid-run leaves the task to be redelivered (and
    # campaigns_due restarts a campaign whose task was lost); the ledger
    # (campaigns.services) makes the rerun send only to those not yet messaged. A large
    # campaign hands over to a fresh task every TASK_BATCHES, within Celery's time limits.
    sent, more = services.campaign_run_some(
        campaign_id=campaign_id, max_batches=services.TASK_BATCHES
    )
    if more:
        bulk_campaign_run.delay(campaign_id)
    return sent


@shared_task
def bulk_campaigns_due() -> int:
    ids = services.campaigns_due()
    for campaign_id in ids:
        bulk_campaign_run.delay(campaign_id)
    return len(ids)


@shared_task
def bulk_scheduled_due() -> int:
    return scheduled.scheduled_due()


@shared_task
def bulk_surveys_due() -> int:
    return surveys.surveys_due()
