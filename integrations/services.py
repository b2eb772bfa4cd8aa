"""Event webhooks: subscriptions, recording an event for them, and delivering it.

Lifecycle of a WebhookDelivery:

    pending ──claim (conditional UPDATE)──> sending ──2xx──> delivered
       ^                                      │
       └── 408, 429, 5xx, no answer: ─────────┤  (next_attempt_at = now + RETRY_DELAYS[n])
           retried with backoff               └── other answers, a URL the egress policy
                                                  refuses, attempts exhausted: failed

An event never slows the turn that caused it: the apps' hooks (integrations.hooks) call
`event_emit`, which only registers an after-commit callback; the callback asks the cache
whether the tenant subscribes to that event at all (no query for the many that do not),
inserts one delivery row per subscription and queues their delivery on the `bulk` queue.
Every attempt is a WebhookAttempt row (the log). A sweeper (integrations.tasks) queues
deliveries whose retry is due and frees claims a crashed worker left.

Bodies are signed like the plan alerts (billing.alerts, billing.signing: Stripe's scheme,
https://docs.stripe.com/webhooks#verify-manually): `X-Webhook-Timestamp` and
`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from billing import signing
from billing.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER
from billing.models import Tenant
from config import http, memo
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-Webhook-Event"
DELIVERY_HEADER = "X-Webhook-Delivery"
# Waits after attempts 1, 2, ...: about a day and a half in all, as Stripe and GitHub retry
# for hours, so a receiver down for a deploy or a night still gets every event.
RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
RETRY_STATUSES = frozenset({408, 425, 429})
EXCERPT_CHARS = 500
# A receiver answers with a short acknowledgement; more than this is not read.
MAX_ANSWER_BYTES = 64 * 1024
# A claim older than this belongs to a worker that died mid-call (the call's timeout is
# far shorter).
STALE_CLAIM = timedelta(minutes=5)
ATTEMPTS = Counter(
    "integrations_webhook_attempts_total",
    "Event webhook attempts, by event type and what became of the delivery",
    ["event", "outcome"],
)
EVENT_NAMESPACE = uuid.UUID("6b1f5d9e-3c1a-4f7e-9a51-2f8d1c7e4b20")


# --- Subscriptions -------------------------------------------------------------------------


def _cache_key(tenant_id: int) -> str:
    return f"integrations:events:{tenant_id}"


def subscribed_events(tenant_id: int) -> frozenset[str]:
    """Every event type some active subscription of the tenant wants (cached; once per
    processor batch: config.memo)."""
    key = _cache_key(tenant_id)
    return memo.cached(key, partial(_subscribed_events, key, tenant_id))


def _subscribed_events(key: str, tenant_id: int) -> frozenset[str]:
    found = cache.get(key)
    if found is None:
        found = sorted(
            {
                event
                for events in WebhookSubscription.objects.filter(
                    tenant_id=tenant_id, active=True
                ).values_list("events", flat=True)
                for event in events
            }
        )
        cache.set(key, found, 300)
    return frozenset(found)


def subscriptions_changed(tenant_id: int) -> None:
    """Forget the cached event list once the change commits (called by every write)."""
    transaction.on_commit(partial(cache.delete, _cache_key(tenant_id)))
    cache.delete(_cache_key(tenant_id))
    memo.forget(_cache_key(tenant_id))


def subscription_save(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Validate (the egress policy on the URL, the events) and save a subscription."""
    subscription.full_clean()
    subscription.save()
    subscriptions_changed(subscription.tenant_id)
    return subscription


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    tenant_id = subscription.tenant_id
    subscription.delete()
    subscriptions_changed(tenant_id)


# --- Recording events ----------------------------------------------------------------------


def event_id_for(event_type: str, key: str) -> str:
    """A stable id: the same change seen twice (an inbound event processed again) is one
    event, and each subscription gets it once (the delivery's unique constraint)."""
    return "evt_" + uuid.uuid5(EVENT_NAMESPACE, f"{event_type}:{key}").hex


def event_emit(
    *, tenant_id: int, event_type: str, key: str, build: Callable[[], dict | None]
) -> None:
    """Record `event_type` for the tenant's subscriptions once the caller's transaction
    commits. `key` names the change (its id); `build()` returns the event's data, or None
    to drop it, and runs only when someone subscribed. Never raises."""
    transaction.on_commit(
        partial(_record_quietly, tenant_id, event_type, key, build, timezone.now()), robust=True
    )


def _record_quietly(*args) -> None:
    try:
        event_record(*args)
    except Exception:
        logger.exception("event webhook not recorded", extra={"event_type": args[1]})


def event_record(
    tenant_id: int,
    event_type: str,
    key: str,
    build: Callable[[], dict | None],
    occurred_at: datetime | None = None,
) -> list[int]:
    """Insert the deliveries of one event and queue them; their ids (new ones only)."""
    if event_type not in subscribed_events(tenant_id):
        return []
    subscriptions = [
        s
        for s in WebhookSubscription.objects.filter(tenant_id=tenant_id, active=True).only(
            "pk", "events"
        )
        if event_type in s.events
    ]
    if not subscriptions:
        return []
    data = build()
    if data is None:
        return []
    event_id = event_id_for(event_type, key)
    payload = {
        "id": event_id,
        "type": event_type,
        "tenant": Tenant.objects.filter(pk=tenant_id).values_list("slug", flat=True).first(),
        "created_at": (occurred_at or timezone.now()).isoformat(),
        "data": data,
    }
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                tenant_id=tenant_id,
                subscription=s,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
            )
            for s in subscriptions
        ],
        ignore_conflicts=True,  # the same event again: each subscription has it already
    )
    ids = list(
        WebhookDelivery.objects.filter(
            tenant_id=tenant_id,
            event_id=event_id,
            attempts=0,
            status=WebhookDelivery.Status.PENDING,
        ).values_list("pk", flat=True)
    )
    for delivery_id in ids:
        delivery_queue(delivery_id)
    return ids


def delivery_queue(delivery_id: int, countdown: float | None = None) -> None:
    from integrations import tasks

    try:
        if countdown:
            tasks.bulk_webhook_deliver.apply_async((delivery_id,), countdown=countdown)
        else:
            tasks.bulk_webhook_deliver.delay(delivery_id)
    except Exception:
        if tasks.bulk_webhook_deliver.app.conf.task_always_eager:
            raise
        # The row is saved: the sweeper queues it again.
        logger.exception("could not queue an event webhook", extra={"delivery_id": delivery_id})


# --- Delivering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str  # WebhookDelivery.Status
    retry_in: float | None = None  # seconds, when another attempt is due


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()


def signed_headers(*, secret: str, body: bytes, delivery: WebhookDelivery) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signing.sign(secret=secret, timestamp=timestamp, body=body),
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: delivery.event_id,
    }


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Outcome | None:
    """Claim a due delivery and POST it once, signed; the attempt goes to the log. None
    when it was not ours to send (delivered, claimed by another worker, not due yet)."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(status=WebhookDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    subscription = delivery.subscription
    body = body_of(delivery)
    headers = signed_headers(secret=subscription.secret, body=body, delivery=delivery)
    code, excerpt, error, retry = None, "", "", False
    started = time.monotonic()
    if not subscription.active:  # switched off after the event: nothing goes out
        error = _("O webhook está desativado: o evento não foi enviado.")
    else:
        code, excerpt, error, retry = _post(subscription, body, headers, delivery_id)
    elapsed = round((time.monotonic() - started) * 1000)
    number = delivery.attempts
    WebhookAttempt.objects.create(
        tenant_id=delivery.tenant_id,
        delivery=delivery,
        number=number,
        status_code=code,
        response_excerpt=excerpt,
        error=error[:500],
        duration_ms=elapsed,
    )
    fields = {"last_status_code": code, "last_error": error[:500], "claimed_at": None}
    if code is not None and 200 <= code < 300:
        outcome = Outcome(WebhookDelivery.Status.DELIVERED)
        fields.update(delivered_at=timezone.now(), next_attempt_at=None)
    elif retry and number < MAX_ATTEMPTS:
        delay = RETRY_DELAYS[number - 1]
        outcome = Outcome(WebhookDelivery.Status.PENDING, retry_in=delay)
        fields["next_attempt_at"] = timezone.now() + timedelta(seconds=delay)
    else:
        outcome = Outcome(WebhookDelivery.Status.FAILED)
        fields["next_attempt_at"] = None
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.SENDING).update(
        status=outcome.status, **fields
    )
    ATTEMPTS.labels(event=delivery.event_type, outcome=outcome.status).inc()
    logger.info(
        "event webhook attempt",
        extra={
            "delivery_id": delivery_id,
            "event_type": delivery.event_type,
            "attempt": number,
            "status": code,
            "outcome": outcome.status,
        },
    )
    return outcome


def _post(subscription: WebhookSubscription, body: bytes, headers: dict, delivery_id: int):
    """POST once: (status code, answer excerpt, error, retry?)."""
    try:
        response = http.tenant_request(
            "POST",
            subscription.url,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_EVENTS_TIMEOUT_SECONDS,
            max_bytes=MAX_ANSWER_BYTES,
        )
    except http.HTTPTooLarge:
        return (
            None,
            "",
            _("O endereço respondeu com mais de 64 KB; responda só um código 2xx."),
            False,
        )
    except http.HTTPRefused as exc:  # the egress policy's own words (pt-BR)
        return None, "", _("URL recusada: %(reason)s") % {"reason": exc}, False
    except http.HTTPError as exc:
        logger.warning("event webhook unreachable", extra={"delivery_id": delivery_id})
        error = (
            _("Sem resposta em %(s)s s.") % {"s": f"{settings.WEBHOOK_EVENTS_TIMEOUT_SECONDS:g}"}
            if isinstance(exc, http.HTTPTimeout)
            else _("Não foi possível conectar ao endereço.")
        )
        return None, "", error, True
    code = response.status_code
    # The answer of the tenant's own server, shown to the tenant: the egress policy already
    # kept the call to a public address, so it tells nothing about our network.
    return code, response.text[:EXCERPT_CHARS], "", code >= 500 or code in RETRY_STATUSES


def delivery_redeliver(*, delivery: WebhookDelivery) -> bool:
    """Send a delivery once more, now (the admin action, the API). False while it is being
    sent. A failure after this is final unless retries were left."""
    moved = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .exclude(status=WebhookDelivery.Status.SENDING)
        .update(status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
    )
    if moved:
        transaction.on_commit(partial(delivery_queue, delivery.pk))
    return bool(moved)


def deliveries_sweep(*, now: datetime | None = None) -> int:
    """Queue the deliveries whose attempt is due (a countdown lost with a worker or the
    broker), free stale claims, and delete the log past WEBHOOK_EVENTS_KEEP_DAYS (it holds
    customers' messages). Returns how many were queued."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    ).update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now, claimed_at=None)
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
    for delivery_id in due:
        delivery_queue(delivery_id)
    old = WebhookDelivery.objects.filter(
        created_at__lt=now - timedelta(days=settings.WEBHOOK_EVENTS_KEEP_DAYS),
        status__in=[WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED],
    ).values_list("pk", flat=True)[:5000]
    WebhookDelivery.objects.filter(pk__in=list(old)).delete()
    return len(due)
