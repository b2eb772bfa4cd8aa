"""Celery entry points: sending on the `bulk` queue (config/celery.py routes `*.tasks.bulk_*`),
the assistant's per-customer parameters on `llm` (`campaigns.tasks.*_llm`)."""

from __future__ import annotations

from celery import shared_task

from campaigns import scheduled, services, suggestions, surveys


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
    for campaign_id in services.campaigns_preparing_stalled():
        campaign_prepare_llm.delay(campaign_id)
    return len(ids)


# Model calls take seconds each: a long soft limit, and acks_late so a lost worker's
# preparation is redelivered (what was stored is not asked again).
@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def campaign_prepare_llm(campaign_id: int) -> bool:
    if suggestions.campaign_prepare(campaign_id=campaign_id):
        return services.campaign_prepared(campaign_id=campaign_id)
    return False


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def campaign_preview_llm(campaign_id: int) -> int:
    return suggestions.preview_compute(campaign_id=campaign_id)


@shared_task
def bulk_scheduled_due() -> int:
    return scheduled.scheduled_due()


@shared_task
def bulk_surveys_due() -> int:
    return surveys.surveys_due()
