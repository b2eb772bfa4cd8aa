"""The monthly report's Celery tasks, on the `bulk` queue: beat starts the fan-out on the
first day of the month (config/schedule.py), one task per tenant renders and emails."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="integrations.report_tasks.bulk_monthly_reports")
def bulk_monthly_reports() -> int:
    """Queue last month's report of every active tenant."""
    from django.utils import timezone

    from billing.models import Tenant
    from integrations import report

    month = report.previous_month(timezone.localdate())
    ids = list(Tenant.objects.filter(active=True).values_list("pk", flat=True))
    for tenant_id in ids:
        bulk_monthly_report.delay(tenant_id, f"{month:%Y-%m}")
    return len(ids)


@shared_task(
    name="integrations.report_tasks.bulk_monthly_report",
    bind=True,
    acks_late=True,
    max_retries=3,
)
def bulk_monthly_report(self, tenant_id: int, month: str) -> bool:
    from integrations import report

    try:
        return report.report_email(tenant_id=tenant_id, month=report.month_parse(month))
    except Exception as exc:
        if self.request.is_eager:
            raise
        logger.exception("monthly report failed", extra={"tenant_id": tenant_id})
        raise self.retry(exc=exc, countdown=600) from exc
