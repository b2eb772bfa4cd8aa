"""Plan quotas: may this tenant's bot answer, use AI, send at all?

The subscription decides first: `canceled` stops everything that goes out; `past_due` (and
a trial that ended unpaid) gets BILLING_PAST_DUE_GRACE_DAYS of grace, then is blocked like an
exhausted plan. Then the plan's monthly limits: over `max_messages_per_month` the bot answers
a short notice once per day per customer and runs no flow and no AI (billing.gate); over
`max_ai_tokens_per_month` (or with AI off in the plan) AI is refused. A limit of 0 means
no cap. A tenant without a subscription (set-up commands, tests) is not limited.

Cost on the message path: the subscription and its plan come with the chatbot's tenant
(the engine selects them in its one query, else one query here); the period's usage comes
from a cache entry refreshed at most every BILLING_QUOTA_CACHE_SECONDS (Redis in
production), so usage shown to the gate lags by at most that plus the metering flush.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import metering
from billing.models import LimitKind, Membership, Plan, Subscription, Tenant

logger = logging.getLogger(__name__)

# Why a tenant is blocked ("" = not blocked).
MESSAGES = "messages"
PAST_DUE = "past_due"
TRIAL_ENDED = "trial_ended"
CANCELED = "canceled"

_USAGE_KEY = "billing:quota:usage:{tenant_id}"
_STATUS_KEY = "billing:quota:status:{tenant_id}"


# --- Periods -----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole months; the day is clamped (Jan 31 + 1 month = Feb 28/29)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def usage_period(subscription: Subscription | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The monthly window the plan's limits apply to: [start, end).

    The subscription's current period when `now` is in it and it is about a month long;
    otherwise monthly windows anchored at the period start (a period paid for several
    months, or one that lapsed without a payment event). Without a subscription, the
    calendar month in the project's time zone.
    """
    if subscription is None:
        local = timezone.localtime(now)
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, add_months(start, 1)
    start, end = subscription.current_period_start, subscription.current_period_end
    if start <= now < end and end - start <= timedelta(days=32):
        return start, end
    if now < start:
        return start, add_months(start, 1)
    months = (now.year - start.year) * 12 + now.month - start.month
    k = max(months - 1, 0)
    while add_months(start, k + 1) <= now:
        k += 1
    return add_months(start, k), add_months(start, k + 1)


def grace_days() -> int:
    return int(settings.BILLING_PAST_DUE_GRACE_DAYS)


def _grace_start(subscription: Subscription) -> datetime | None:
    """When the unpaid time began: past_due since (or the period end), or the trial's end."""
    if subscription.status == Subscription.Status.PAST_DUE:
        return subscription.past_due_since or subscription.current_period_end
    if subscription.status == Subscription.Status.TRIALING:
        return subscription.trial_end
    return None


def subscription_block(subscription: Subscription, *, now: datetime) -> tuple[str, datetime | None]:
    """(reason, since): why the subscription itself blocks the tenant, and since when the
    reason holds (the start of the grace period); ("", None) when it does not."""
    if subscription.status == Subscription.Status.CANCELED:
        return CANCELED, subscription.canceled_at or subscription.updated_at
    start = _grace_start(subscription)
    if start is not None and now >= start + timedelta(days=grace_days()):
        reason = PAST_DUE if subscription.status == Subscription.Status.PAST_DUE else TRIAL_ENDED
        return reason, start
    return "", None


# --- State -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaState:
    """What a tenant used and may use this period (for gates, dashboards and the API)."""

    status: str  # the subscription's status; "" without a subscription
    plan_name: str
    period_start: datetime
    period_end: datetime
    messages_used: int
    messages_limit: int  # 0: no cap
    ai_enabled: bool
    ai_tokens_used: int
    ai_tokens_limit: int  # 0: no cap
    block: str  # "", MESSAGES, PAST_DUE, TRIAL_ENDED or CANCELED
    grace_ends_at: datetime | None

    @property
    def blocked(self) -> bool:
        return bool(self.block)

    @property
    def messages_exhausted(self) -> bool:
        return bool(self.messages_limit) and self.messages_used >= self.messages_limit

    @property
    def ai_tokens_exhausted(self) -> bool:
        return bool(self.ai_tokens_limit) and self.ai_tokens_used >= self.ai_tokens_limit


def subscription_of(tenant: Tenant) -> Subscription | None:
    """The tenant's subscription with its plan (free when the caller selected them)."""
    try:
        return tenant.subscription
    except ObjectDoesNotExist:
        return None


def quota_state(*, tenant: Tenant, now: datetime | None = None) -> QuotaState:
    now = now or timezone.now()
    sub = subscription_of(tenant)
    start, end = usage_period(sub, now=now)
    used = period_usage(tenant_id=tenant.pk, start=start, end=end, now=now)
    if sub is None:
        return QuotaState(
            status="",
            plan_name="",
            period_start=start,
            period_end=end,
            messages_used=used["messages"],
            messages_limit=0,
            ai_enabled=True,
            ai_tokens_used=used["ai_tokens"],
            ai_tokens_limit=0,
            block="",
            grace_ends_at=None,
        )
    plan = sub.plan
    block, _since = subscription_block(sub, now=now)
    grace_start = _grace_start(sub)
    state = QuotaState(
        status=sub.status,
        plan_name=plan.name,
        period_start=start,
        period_end=end,
        messages_used=used["messages"],
        messages_limit=plan.max_messages_per_month,
        ai_enabled=plan.ai_enabled,
        ai_tokens_used=used["ai_tokens"],
        ai_tokens_limit=plan.max_ai_tokens_per_month,
        block=block,
        grace_ends_at=grace_start + timedelta(days=grace_days()) if grace_start else None,
    )
    if not block and state.messages_exhausted:
        state = replace(state, block=MESSAGES)
    return state


def period_usage(*, tenant_id: int, start: datetime, end: datetime, now: datetime) -> dict:
    """{"messages", "ai_tokens"} used in [start, end): cached for BILLING_QUOTA_CACHE_SECONDS.

    Counted by whole local days (DailyUsage rows), from the day the period starts.
    """
    key = _USAGE_KEY.format(tenant_id=tenant_id)
    stamp = int(start.timestamp())
    cached = cache.get(key)
    if cached and cached.get("period") == stamp:
        return cached
    last = min(now, end - timedelta(microseconds=1))
    usage = metering.usage_between(
        tenant_id=tenant_id,
        first_day=timezone.localdate(start),
        last_day=timezone.localdate(last),
    )
    value = {"period": stamp, "messages": usage.messages, "ai_tokens": usage.ai_tokens}
    cache.set(key, value, timeout=settings.BILLING_QUOTA_CACHE_SECONDS)
    return value


def quota_state_invalidate(*, tenant_id: int) -> None:
    """Forget the cached usage and status (after a payment event or a plan change)."""
    cache.delete_many(
        [_USAGE_KEY.format(tenant_id=tenant_id), _STATUS_KEY.format(tenant_id=tenant_id)]
    )


# --- Gates -------------------------------------------------------------------------------


def ai_allowed(*, tenant: Tenant, now: datetime | None = None) -> bool:
    """May the bot answer with AI now? The plan has AI on, the month's AI tokens are not
    used up, the message quota is not exhausted and the subscription is in good standing.
    A tenant without a subscription is not limited."""
    sub = subscription_of(tenant)
    if sub is None:
        return True
    if not sub.plan.ai_enabled:
        return False
    state = quota_state(tenant=tenant, now=now)
    return not state.blocked and not state.ai_tokens_exhausted


def sending_allowed(*, tenant_id: int) -> bool:
    """False when the tenant's subscription is canceled: nothing goes out any more.

    Read on every outbound send, so the status is cached (quota_state_invalidate clears it
    when a payment event or the admin changes the subscription).
    """
    key = _STATUS_KEY.format(tenant_id=tenant_id)
    status = cache.get(key)
    if status is None:
        status = (
            Subscription.objects.filter(tenant_id=tenant_id)
            .values_list("status", flat=True)
            .first()
            or "none"
        )
        cache.set(key, status, timeout=settings.BILLING_QUOTA_CACHE_SECONDS)
    return status != Subscription.Status.CANCELED


def sending_allowed_many(*, tenant_ids: Iterable[int]) -> dict[int, bool]:
    """`sending_allowed` for several tenants: one cache round trip (and one query for the
    tenants not cached)."""
    keys = {tenant_id: _STATUS_KEY.format(tenant_id=tenant_id) for tenant_id in set(tenant_ids)}
    cached = cache.get_many(list(keys.values()))
    status = {tenant_id: cached.get(key) for tenant_id, key in keys.items()}
    missing = [tenant_id for tenant_id, value in status.items() if value is None]
    if missing:
        found = dict(
            Subscription.objects.filter(tenant_id__in=missing).values_list("tenant_id", "status")
        )
        for tenant_id in missing:
            status[tenant_id] = found.get(tenant_id) or "none"
        cache.set_many(
            {keys[tenant_id]: status[tenant_id] for tenant_id in missing},
            timeout=settings.BILLING_QUOTA_CACHE_SECONDS,
        )
    return {tenant_id: value != Subscription.Status.CANCELED for tenant_id, value in status.items()}


SUBSCRIPTION_CANCELED = "subscription_canceled"  # Message.error_code of a send refused here


def subscription_gate(outgoing) -> tuple[str, str] | None:
    """The outbox's SEND gate (chatbots.outbox.gates; registered in billing.apps): once
    the subscription is canceled nothing goes out, not even the bot's replies."""
    if sending_allowed(tenant_id=outgoing.tenant_id):
        return None
    return SUBSCRIPTION_CANCELED, _("A assinatura da empresa foi cancelada.")


def subscription_gate_many(outgoings) -> list[tuple[str, str] | None]:
    """`subscription_gate` for a sender's round: one cache round trip for all its tenants."""
    allowed = sending_allowed_many(tenant_ids=[o.tenant_id for o in outgoings])
    refusal = SUBSCRIPTION_CANCELED, _("A assinatura da empresa foi cancelada.")
    return [None if allowed[o.tenant_id] else refusal for o in outgoings]


# --- Seats: chatbots and staff members ------------------------------------------------------

SEAT_REFUSALS = {
    LimitKind.CHATBOTS: gettext_lazy(
        "Seu plano %(plan)s permite %(limit)d chatbot(s). Exclua um chatbot ou mude de plano "
        "para criar outro."
    ),
    LimitKind.STAFF: gettext_lazy(
        "Seu plano %(plan)s permite %(limit)d usuário(s) da equipe. Remova o acesso de alguém "
        "ou mude de plano para dar acesso a mais uma pessoa."
    ),
}


def _staff_count(*, tenant_id: int) -> int:
    return Membership.objects.filter(tenant_id=tenant_id).count()


# Who counts each seat kind. Staff members are billing's own rows; the app that owns another
# kind registers its counter at start-up (chatbots counts its bots, in ChatbotsConfig.ready),
# so billing, at the bottom of the layers, imports no app above it.
_SEAT_COUNTERS: dict[str, Callable[..., int]] = {LimitKind.STAFF: _staff_count}


def seat_counter_register(kind: str, counter: Callable[..., int]) -> None:
    """Count the tenant's seats of `kind` with `counter(tenant_id=...)`."""
    if kind not in SEAT_REFUSALS:
        raise ValueError(f"not a seat limit: {kind!r}")
    _SEAT_COUNTERS[kind] = counter


def seats_used(*, tenant_id: int, kind: str) -> int:
    """How many of a seat kind the tenant has: chatbots or staff members."""
    if kind not in SEAT_REFUSALS:
        raise ValueError(f"not a seat limit: {kind!r}")
    counter = _SEAT_COUNTERS.get(kind)
    if counter is None:
        raise ImproperlyConfigured(
            f"No counter for {kind!r} seats: the app that owns them registers one with "
            "billing.quotas.seat_counter_register() in its AppConfig.ready()."
        )
    return counter(tenant_id=tenant_id)


def seat_cap(plan: Plan, kind: str) -> int:
    return plan.max_chatbots if kind == LimitKind.CHATBOTS else plan.max_staff


def seat_limit_check(*, tenant: Tenant, kind: str, adding: int = 1, lock: bool = False) -> None:
    """Refuse `adding` more chatbots or staff members beyond the plan's cap (ValidationError,
    code "plan_limit", in the words the admin and the API show).

    A tenant without a subscription is not limited (set-up commands and tests create bare
    tenants). With `lock`, the subscription row is locked until the caller's transaction
    ends, so two concurrent additions cannot both take the last seat.
    """
    subs = Subscription.objects.select_related("plan").filter(tenant=tenant)
    if lock:
        subs = subs.select_for_update(of=("self",))
    sub = subs.first()
    if sub is None:
        return
    limit = seat_cap(sub.plan, kind)
    if seats_used(tenant_id=tenant.pk, kind=kind) + adding > limit:
        raise ValidationError(
            str(SEAT_REFUSALS[kind]) % {"plan": sub.plan.name, "limit": limit},
            code="plan_limit",
        )
