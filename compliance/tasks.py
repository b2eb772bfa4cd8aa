"""Periodic jobs of the compliance app (thin: one service call each, run as a system actor
so whatever they record in the audit log names the job)."""

from __future__ import annotations

from celery import shared_task

from compliance.audit import acting_as, system_actor


@shared_task(name="compliance.tasks.retention_run")
def retention_run() -> dict:
    """Weekly: blank old message texts, delete old raw webhooks and audit entries."""
    from compliance import retention

    with acting_as(system_actor("retention")):
        report = retention.retention_run()
    return {"rows": report.rows, "batches": report.batches}


@shared_task(name="compliance.tasks.reactivation_run")
def reactivation_run() -> int:
    """Hourly: schedule the reactivation template for tenants whose local time is 10:xx."""
    from compliance import reactivation

    with acting_as(system_actor("reactivation")):
        return reactivation.reactivation_run()


@shared_task(name="compliance.tasks.reactivation_send", acks_late=True)
def reactivation_send(send_id: int) -> None:
    from compliance import reactivation

    with acting_as(system_actor("reactivation")):
        reactivation.reactivation_send(send_id=send_id)
