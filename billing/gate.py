"""The quota gate on every customer message: may the bot run its flow (and AI) now?

The rule is billing.quotas' (subscription standing, the plan's monthly messages); this
module acts on it at the door of a turn. Over quota the bot answers a short notice on the
customer's first message of the local day and stays silent after it, and staff are told
once per period (a billing.alerts alert). It sits above both: alerts read the quota state
to raise the usage alerts, the gate raises one when it blocks, and quotas imports neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import alerts
from billing.models import BillingSettings, LimitKind, Tenant
from billing.quotas import (
    CANCELED,
    MESSAGES,
    period_usage,
    subscription_block,
    subscription_of,
    usage_period,
)

logger = logging.getLogger(__name__)

DEFAULT_NOTICE = (
    "No momento não conseguimos responder por aqui. Por favor, tente novamente mais tarde "
    "ou fale conosco por outro canal."
)
# Chatbot.options key of a bot's own notice (BillingSettings.over_quota_notice is the
# tenant's default).
NOTICE_OPTION = "quota_notice"

_NOTICE_KEY = "billing:quota:notice:{tenant_id}:{cliente_id}:{day}"
_TOLD_KEY = "billing:quota:told:{tenant_id}:{reason}:{since}"


@dataclass(frozen=True)
class Gate:
    """The quota's answer for one customer message."""

    blocked: bool = False
    notice: str = ""  # what the bot says ("" while blocked: say nothing)


OPEN = Gate()


def inbound_gate(
    *,
    tenant: Tenant,
    cliente_id: int,
    chatbot_options: dict | None = None,
    now: datetime | None = None,
) -> Gate:
    """May the bot run its flow (and AI) for this customer message?

    Over quota (messages, or past_due / ended trial after the grace period): blocked, with
    the notice on the customer's first message of the (local) day and silence after it;
    staff are told once per period. Canceled: blocked in silence.
    """
    sub = subscription_of(tenant)
    if sub is None:
        return OPEN
    now = now or timezone.now()
    reason, since = subscription_block(sub, now=now)
    if reason == CANCELED:
        return Gate(blocked=True)
    if not reason:
        limit = sub.plan.max_messages_per_month
        if not limit:
            return OPEN
        start, end = usage_period(sub, now=now)
        used = period_usage(tenant_id=tenant.pk, start=start, end=end, now=now)["messages"]
        if used < limit:
            return OPEN
        reason, since = MESSAGES, start
        _tell_staff_once(
            tenant=tenant, reason=reason, since=since, used=used, limit=limit, until=end
        )
    else:
        _tell_staff_once(tenant=tenant, reason=reason, since=since, used=0, limit=0, until=None)
    if not _first_notice_today(tenant=tenant, cliente_id=cliente_id, now=now):
        return Gate(blocked=True)
    return Gate(blocked=True, notice=notice_text(tenant=tenant, chatbot_options=chatbot_options))


def notice_text(*, tenant: Tenant, chatbot_options: dict | None = None) -> str:
    """The bot's own notice, else the tenant's, else the default (pt-BR)."""
    text = (chatbot_options or {}).get(NOTICE_OPTION, "")
    if not text:
        text = (
            BillingSettings.objects.filter(tenant=tenant)
            .values_list("over_quota_notice", flat=True)
            .first()
            or ""
        )
    return text.strip() or _(DEFAULT_NOTICE)


def _first_notice_today(*, tenant: Tenant, cliente_id: int, now: datetime) -> bool:
    """True once per customer and local day (an atomic SET NX in Redis)."""
    local = timezone.localtime(now)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    key = _NOTICE_KEY.format(tenant_id=tenant.pk, cliente_id=cliente_id, day=local.date())
    # The key names the day, so the expiry only has to outlive it (clock skew margin).
    return cache.add(key, 1, timeout=int((midnight - local).total_seconds()) + 3600)


def _tell_staff_once(
    *, tenant: Tenant, reason: str, since: datetime, used: int, limit: int, until: datetime | None
) -> None:
    """Raise the blocking alert (email + admin notice) once per period; the cache spares the
    database a look per message, the alert's unique row guarantees once."""
    key = _TOLD_KEY.format(tenant_id=tenant.pk, reason=reason, since=int(since.timestamp()))
    timeout = int((until - timezone.now()).total_seconds()) if until else 7 * 86400
    if not cache.add(key, 1, timeout=max(timeout, 60)):
        return
    kind = LimitKind.MESSAGES if reason == MESSAGES else LimitKind.SUBSCRIPTION
    try:
        alerts.alert_raise(
            tenant_id=tenant.pk,
            kind=kind,
            threshold=100,
            period_start=since,
            used=used,
            limit=limit,
        )
    except Exception:  # telling staff must never cost the customer the notice
        logger.exception("could not raise the quota alert", extra={"tenant_id": tenant.pk})
        cache.delete(key)
