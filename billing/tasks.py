"""Billing tasks: thin. The flush runs every 30 s (config/schedule.py); alert deliveries go
to the `bulk` queue (the `bulk_` prefix routes them, config/celery.py), never inline on the
message path."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

# Alert webhooks retry transport errors, 429 and 5xx: 30 s, 1 min, 2 min, 4 min, 8 min.
WEBHOOK_RETRIES = 5


@shared_task(name="billing.tasks.flush_usage")
def flush_usage() -> int:
    """Move the Redis usage counters to the daily rows, then check the usage alerts."""
    from billing import alerts, metering

    tenant_ids = metering.flush()
    for tenant_id in sorted(tenant_ids):
        try:
            alerts.limits_check(tenant_id=tenant_id)
        except Exception:  # one tenant's problem must not stop the others' alerts
            logger.exception("usage alert check failed", extra={"tenant_id": tenant_id})
    alerts.redeliver()
    return len(tenant_ids)


@shared_task(name="billing.tasks.bulk_alert_email", acks_late=True, max_retries=3)
def bulk_alert_email(alert_id: int) -> bool:
    from billing import alerts

    return alerts.alert_email(alert_id=alert_id)


@shared_task(
    name="billing.tasks.bulk_alert_webhook", bind=True, acks_late=True, max_retries=WEBHOOK_RETRIES
)
def bulk_alert_webhook(self, alert_id: int) -> bool:
    from billing import alerts

    try:
        return alerts.alert_webhook(alert_id=alert_id)
    except alerts.WebhookDeliveryError as exc:
        if self.request.is_eager:
            logger.warning("alert webhook failed", extra={"alert_id": alert_id})
            return False  # eager (tests, embedded): no waiting retries; the error is stored
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(name="billing.tasks.flush_expired_tokens")
def flush_expired_tokens() -> int:
    """Delete API refresh tokens past their expiry (and their blacklist rows): simplejwt keeps
    every token it issued until someone removes it, and they are useless once expired."""
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    deleted, _per_model = OutstandingToken.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
