"""The payment webhook: a provider-neutral event shape that moves subscriptions.

Any payment provider (Stripe, Mercado Pago, Asaas, a manual spreadsheet script) maps its
events onto this shape with a few lines of glue, documented in the README:

    POST /api/billing/webhook/
    X-Billing-Timestamp: <unix seconds>
    X-Billing-Signature: sha256=<hex HMAC-SHA256(BILLING_WEBHOOK_SECRET, "<timestamp>." + raw body)>
    X-Company-Domain: <tenant domain or slug>            (or "tenant" in the body)

    {"id": "evt_123", "type": "payment_succeeded", "tenant": "padaria",
     "created": 1767225600, "data": {"plan": "Profissional", "period_end": "...", "amount": "249.00"}}

The recommended signed message is the timestamp, a dot and the raw body bytes (Stripe's
scheme), so a captured request cannot be replayed later with a fresh timestamp. A signature
of the raw body alone (the simpler form many senders produce) is accepted too; with it the
timestamp header still has to be within 5 minutes of our clock, and a replayed body carries
the same event id, which changes nothing (below). The event id makes the webhook idempotent: an
event applied before is acknowledged and changes nothing (`PaymentEvent`, unique id, written
in the same transaction as the change).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing import quotas
from billing.models import PaymentEvent, Plan, Subscription, Tenant
from billing.signing import sign, sign_body
from config.webhooks import load_json

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Billing-Signature"
TIMESTAMP_HEADER = "X-Billing-Timestamp"
DOMAIN_HEADER = "X-Company-Domain"
# Replays: a signed request is only good this close to our clock (either way, for skew).
TOLERANCE = timedelta(minutes=5)
MAX_BODY_BYTES = 256 * 1024


class WebhookRejected(Exception):
    """The request is refused; nothing was stored or changed."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


# --- Signatures --------------------------------------------------------------------------


def signature_verify(
    *, secret: str, timestamp: str, signature: str, body: bytes, now: datetime | None = None
) -> None:
    """Raise WebhookRejected unless the signature is ours and the timestamp is fresh."""
    if not secret:
        raise WebhookRejected(
            503,
            "not_configured",
            "BILLING_WEBHOOK_SECRET is not set: the payment webhook refuses everything until "
            "it is (see .env.example).",
        )
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise WebhookRejected(
            401, "bad_timestamp", f"{TIMESTAMP_HEADER} must be the unix time in seconds."
        ) from None
    if abs((now or timezone.now()) - sent_at) > TOLERANCE:
        raise WebhookRejected(
            401,
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is more than 5 minutes away from the server's clock "
            "(a replay, or a clock to fix).",
        )
    given = (signature or "").strip()
    if given and not given.startswith("sha256="):
        given = "sha256=" + given
    expected = (
        sign(secret=secret, timestamp=timestamp, body=body),
        sign_body(secret=secret, body=body),
    )
    # Compare against both forms every time, so timing does not tell which one is used.
    matches = [hmac.compare_digest(e.encode(), given.encode()) for e in expected]
    if not given or not any(matches):
        raise WebhookRejected(
            401,
            "bad_signature",
            f"{SIGNATURE_HEADER} does not match: expected sha256=<hex HMAC-SHA256 of "
            '"<timestamp>." + raw body, keyed with BILLING_WEBHOOK_SECRET>.',
        )


# --- Events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentEventData:
    id: str
    type: str
    occurred_at: datetime
    tenant_slug: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def event_parse(*, body: bytes, timestamp: str) -> PaymentEventData:
    try:
        # NaN, \u0000, deep nesting: what PostgreSQL or our code cannot take (config.webhooks).
        payload = load_json(body)
    except ValueError:
        raise WebhookRejected(400, "bad_json", "The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "bad_json", "The body must be a JSON object.")
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str | int) or not str(event_id).strip():
        raise WebhookRejected(400, "missing_id", '"id" (the event id) is required.')
    if not isinstance(event_type, str) or not event_type:
        raise WebhookRejected(400, "missing_type", '"type" is required.')
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        raise WebhookRejected(400, "bad_data", '"data" must be an object.')
    occurred_at = _when(payload.get("created")) or datetime.fromtimestamp(int(timestamp), UTC)
    return PaymentEventData(
        id=str(event_id).strip()[:255],
        type=event_type,
        occurred_at=occurred_at,
        tenant_slug=str(payload.get("tenant") or payload.get("tenant_slug") or "").strip(),
        data=data,
        raw=payload,
    )


def _when(value: Any) -> datetime | None:
    """A unix time (int) or an ISO 8601 string with an offset; None when absent."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    raise WebhookRejected(
        400, "bad_date", f"{value!r} is not a unix time nor an ISO 8601 date with an offset."
    )


def tenant_for_event(*, domain: str, slug: str) -> Tenant:
    """The tenant named by X-Company-Domain (its domain or slug) or by the body's "tenant"."""
    domain, slug = domain.strip().lower(), slug.strip()
    by_header = by_body = None
    if domain:
        by_header = Tenant.objects.filter(Q(domain__iexact=domain) | Q(slug=domain)).first()
        if by_header is None:
            raise WebhookRejected(404, "unknown_tenant", f"No tenant has the domain {domain!r}.")
    if slug:
        by_body = Tenant.objects.filter(slug=slug).first()
        if by_body is None:
            raise WebhookRejected(404, "unknown_tenant", f"No tenant has the slug {slug!r}.")
    if by_header and by_body and by_header.pk != by_body.pk:
        raise WebhookRejected(
            400, "tenant_mismatch", f"{DOMAIN_HEADER} and the body's tenant name two tenants."
        )
    tenant = by_header or by_body
    if tenant is None:
        raise WebhookRejected(
            400, "missing_tenant", f'Send {DOMAIN_HEADER} or "tenant" (the slug) in the body.'
        )
    return tenant


# Outcomes, in PaymentEvent.outcome and in the webhook's answer.
APPLIED = "applied"
DUPLICATE = "duplicate"
STALE = "stale"  # older than an event already applied to this subscription
NO_SUBSCRIPTION = "no_subscription"


def _on_payment_succeeded(sub: Subscription, event: PaymentEventData) -> None:
    """Activate and extend: a running period gets one more month (or until data.period_end);
    a lapsed, past-due, canceled or trial one starts a new period now."""
    now = timezone.now()
    plan_name = event.data.get("plan")
    if plan_name:
        plan = Plan.objects.filter(name=plan_name).first()
        if plan is None:
            raise WebhookRejected(400, "unknown_plan", f"No plan named {plan_name!r}.")
        sub.plan = plan
    new_end = _when(event.data.get("period_end"))
    new_start = _when(event.data.get("period_start"))
    if sub.status == Subscription.Status.ACTIVE and sub.current_period_end > now:
        sub.current_period_end = new_end or quotas.add_months(sub.current_period_end, 1)
    else:
        sub.current_period_start = new_start or now
        sub.current_period_end = new_end or quotas.add_months(sub.current_period_start, 1)
    if new_start and new_end:
        sub.current_period_start, sub.current_period_end = new_start, new_end
    if sub.current_period_end <= sub.current_period_start:
        raise WebhookRejected(400, "bad_period", "period_end must come after the period start.")
    sub.status = Subscription.Status.ACTIVE
    sub.past_due_since = None
    sub.canceled_at = None


def _on_payment_failed(sub: Subscription, event: PaymentEventData) -> None:
    if sub.status == Subscription.Status.CANCELED:
        return
    if sub.status != Subscription.Status.PAST_DUE or sub.past_due_since is None:
        sub.past_due_since = event.occurred_at
    sub.status = Subscription.Status.PAST_DUE


def _on_subscription_canceled(sub: Subscription, event: PaymentEventData) -> None:
    sub.status = Subscription.Status.CANCELED
    sub.canceled_at = event.occurred_at


EVENT_HANDLERS: dict[str, Callable[[Subscription, PaymentEventData], None]] = {
    "payment_succeeded": _on_payment_succeeded,
    "payment_failed": _on_payment_failed,
    "subscription_canceled": _on_subscription_canceled,
}


def payment_event_apply(*, tenant: Tenant, event: PaymentEventData) -> str:
    """Apply one event to the tenant's subscription, once. Returns the outcome.

    Unknown event types are refused by the caller before this (400), so a provider's
    unrelated events are visible instead of silently dropped.
    """
    handler = EVENT_HANDLERS[event.type]
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = PaymentEvent.objects.create(
                    event_id=event.id,
                    type=event.type,
                    tenant=tenant,
                    occurred_at=event.occurred_at,
                    payload=event.raw,
                    outcome="",
                )
        except IntegrityError:
            return DUPLICATE
        sub = Subscription.objects.select_for_update().filter(tenant=tenant).first()
        if sub is None and event.type == "payment_succeeded":
            from billing.services import plan_get_default, subscription_start

            subscription_start(tenant=tenant, plan=plan_get_default())
            sub = Subscription.objects.select_for_update().get(tenant=tenant)
            sub.status = Subscription.Status.PAST_DUE  # so the handler starts a period now
        if sub is None:
            outcome = NO_SUBSCRIPTION
        elif sub.last_event_at is not None and event.occurred_at < sub.last_event_at:
            outcome = STALE
        else:
            handler(sub, event)
            sub.last_event_at = event.occurred_at
            sub.save()
            outcome = APPLIED
        PaymentEvent.objects.filter(pk=record.pk).update(outcome=outcome)
        transaction.on_commit(partial(quotas.quota_state_invalidate, tenant_id=tenant.pk))
    logger.info(
        "payment event",
        extra={"tenant_id": tenant.pk, "event_type": event.type, "outcome": outcome},
    )
    return outcome
