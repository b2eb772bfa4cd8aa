"""Plan alerts at 80 % and 100 % of each limit, once per threshold and period.

An alert is a `BillingAlert` row (unique on tenant, limit, threshold and period start: the
row is what makes "once" hold with many workers), which is also the notice staff see in
the admin. When it commits, two tasks on the `bulk` queue tell people: an email to the
tenant's owners (and admins, when the bot stops), and a signed POST to the tenant's own URL
when it configured one (BillingSettings). The counter `billing_alerts_total` counts them.

Who checks: the metering flush (messages and AI tokens, every 30 s), the quota gate (the
moment a tenant is blocked), and the creation of a chatbot or a staff membership.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from billing import metering, quotas, signing
from billing.models import BillingAlert, BillingSettings, LimitKind, Membership, Tenant

logger = logging.getLogger(__name__)

THRESHOLDS = (80, 100)

ALERTS_RAISED = Counter(
    "billing_alerts_total", "Plan alerts raised (each once per period)", ["kind", "threshold"]
)

# Alert webhook headers (signed like the payment webhook: billing.signing).
SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"


# --- Raising -----------------------------------------------------------------------------


def alert_raise(
    *,
    tenant_id: int,
    kind: str,
    threshold: int,
    period_start: datetime,
    used: int,
    limit: int,
) -> BillingAlert | None:
    """Record the alert and, once committed, deliver it. None when it was raised before."""
    tenant = Tenant.objects.filter(pk=tenant_id).only("name").first()
    if tenant is None:
        return None
    try:
        with transaction.atomic():  # savepoint: a duplicate must not spoil the caller's work
            alert = BillingAlert.objects.create(
                tenant_id=tenant_id,
                kind=kind,
                threshold=threshold,
                period_start=period_start,
                used=used,
                limit=limit,
                message=alert_message(
                    tenant_name=tenant.name, kind=kind, threshold=threshold, used=used, limit=limit
                ),
            )
    except IntegrityError:
        return None
    transaction.on_commit(partial(_dispatch, alert.pk, kind, threshold))
    return alert


def notice_raise(
    *, tenant_id: int, source: str, message: str, occurred_at: datetime
) -> BillingAlert | None:
    """A notice that is not a plan threshold (news from Meta about the tenant's WhatsApp
    account, numbers or templates), delivered like the plan alerts: the admin notice, an
    email to the owners and the signed POST. Once per `source` (the event behind it);
    None when it was raised before."""
    try:
        with transaction.atomic():  # savepoint, as in alert_raise
            alert = BillingAlert.objects.create(
                tenant_id=tenant_id,
                kind=LimitKind.WHATSAPP,
                threshold=0,
                period_start=occurred_at,
                message=message,
                source=source[:128],
            )
    except IntegrityError:
        return None
    transaction.on_commit(partial(_dispatch, alert.pk, LimitKind.WHATSAPP, 0))
    return alert


def alert_message(*, tenant_name: str, kind: str, threshold: int, used: int, limit: int) -> str:
    if kind == LimitKind.SUBSCRIPTION:
        return _(
            "%(tenant)s: a assinatura não foi paga (pagamento em atraso ou fim do período de "
            "teste) e o prazo de tolerância acabou. O robô só responde um aviso curto aos "
            "clientes até o pagamento ser regularizado."
        ) % {"tenant": tenant_name}
    label = LimitKind(kind).label
    values = {
        "tenant": tenant_name,
        "label": str(label).lower(),
        "used": used,
        "limit": limit,
        "pct": threshold,
    }
    if threshold >= 100:
        if kind == LimitKind.MESSAGES:
            return (
                _(
                    "%(tenant)s: o limite de %(label)s do plano acabou (%(used)s de %(limit)s). "
                    "O robô só responde um aviso curto aos clientes até o próximo período ou uma "
                    "mudança de plano."
                )
                % values
            )
        if kind == LimitKind.AI_TOKENS:
            return (
                _(
                    "%(tenant)s: o limite de %(label)s do plano acabou (%(used)s de %(limit)s). "
                    "As respostas com IA estão pausadas até o próximo período."
                )
                % values
            )
        return (
            _(
                "%(tenant)s: o limite de %(label)s do plano foi atingido (%(used)s de %(limit)s). "
                "Mude de plano para ter mais."
            )
            % values
        )
    return (
        _(
            "%(tenant)s: %(pct)s%% do limite de %(label)s do plano já foi usado (%(used)s de "
            "%(limit)s)."
        )
        % values
    )


def _dispatch(alert_id: int, kind: str, threshold: int) -> None:
    ALERTS_RAISED.labels(kind=kind, threshold=str(threshold)).inc()
    from billing import tasks

    for task in (tasks.bulk_alert_email, tasks.bulk_alert_webhook):
        try:
            task.delay(alert_id)
        except Exception:
            if task.app.conf.task_always_eager:
                raise
            # The row is saved; redeliver() (run by the flush task) picks it up.
            logger.exception("could not enqueue an alert task", extra={"alert_id": alert_id})


# --- Checking ----------------------------------------------------------------------------


def limits_check(*, tenant_id: int, now: datetime | None = None) -> list[BillingAlert]:
    """Raise the usage alerts (messages, AI tokens) the tenant's usage has reached."""
    tenant = Tenant.objects.select_related("subscription__plan").filter(pk=tenant_id).first()
    sub = quotas.subscription_of(tenant) if tenant else None
    if sub is None:
        return []
    now = now or timezone.now()
    start, end = quotas.usage_period(sub, now=now)
    usage = metering.usage_between(
        tenant_id=tenant_id,
        first_day=timezone.localdate(start),
        last_day=timezone.localdate(min(now, end)),
    )
    plan = sub.plan
    checks = [
        (LimitKind.MESSAGES, usage.messages, plan.max_messages_per_month),
        (
            LimitKind.AI_TOKENS,
            usage.ai_tokens,
            plan.max_ai_tokens_per_month if plan.ai_enabled else 0,
        ),
    ]
    raised = _raise_reached(tenant_id=tenant_id, period_start=start, checks=checks)
    if any(a.kind == LimitKind.MESSAGES and a.threshold >= 100 for a in raised):
        quotas.quota_state_invalidate(tenant_id=tenant_id)  # the gate closes now, not in 30 s
    return raised


def seats_check(*, tenant_id: int, kind: str, now: datetime | None = None) -> list[BillingAlert]:
    """After a chatbot or a staff member is added: alert at 80 % / 100 % of the plan's cap."""
    tenant = Tenant.objects.select_related("subscription__plan").filter(pk=tenant_id).first()
    sub = quotas.subscription_of(tenant) if tenant else None
    if sub is None:
        return []
    used, limit = quotas.seats_used(tenant_id=tenant_id, kind=kind), quotas.seat_cap(sub.plan, kind)
    start, _end = quotas.usage_period(sub, now=now or timezone.now())
    return _raise_reached(tenant_id=tenant_id, period_start=start, checks=[(kind, used, limit)])


def seats_check_on_commit(*, tenant_id: int, kind: str) -> None:
    """seats_check once the caller's transaction commits (the new bot or member is saved)."""
    transaction.on_commit(partial(seats_check, tenant_id=tenant_id, kind=kind))


def _raise_reached(
    *, tenant_id: int, period_start: datetime, checks: list[tuple[str, int, int]]
) -> list[BillingAlert]:
    done = set(
        BillingAlert.objects.filter(tenant_id=tenant_id, period_start=period_start).values_list(
            "kind", "threshold"
        )
    )
    raised = []
    for kind, used, limit in checks:
        if not limit:
            continue  # no cap, nothing to warn about
        for threshold in THRESHOLDS:
            if (kind, threshold) in done or used * 100 < threshold * limit:
                continue
            alert = alert_raise(
                tenant_id=tenant_id,
                kind=kind,
                threshold=threshold,
                period_start=period_start,
                used=used,
                limit=limit,
            )
            if alert is not None:
                raised.append(alert)
    return raised


# --- Delivering (task bodies) --------------------------------------------------------------


def recipients(alert: BillingAlert) -> list[str]:
    """The tenant's owners; admins too when the bot stops (100 % of messages, payment)."""
    roles = [Membership.Role.OWNER]
    if alert.kind == LimitKind.SUBSCRIPTION or (
        alert.kind == LimitKind.MESSAGES and alert.threshold >= 100
    ):
        roles.append(Membership.Role.ADMIN)
    emails = (
        Membership.objects.filter(tenant_id=alert.tenant_id, role__in=roles, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    return sorted(set(emails))


def alert_email(*, alert_id: int) -> bool:
    """Email the alert once (claimed with a conditional UPDATE). True when sent."""
    claimed = BillingAlert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return False
    alert = BillingAlert.objects.select_related("tenant").get(pk=alert_id)
    to = recipients(alert)
    if not to:
        return False
    subject = _("[Plano] %(tenant)s: %(kind)s em %(pct)s%%") % {
        "tenant": alert.tenant.name,
        "kind": alert.get_kind_display(),
        "pct": alert.threshold,
    }
    if alert.kind == LimitKind.SUBSCRIPTION:
        subject = _("[Plano] %(tenant)s: pagamento em atraso") % {"tenant": alert.tenant.name}
    elif alert.kind == LimitKind.WHATSAPP:
        subject = _("[WhatsApp] %(tenant)s: aviso da Meta") % {"tenant": alert.tenant.name}
    link = settings.SITE_URL.rstrip("/") + reverse(
        "admin:billing_tenant_dashboard", args=[alert.tenant_id]
    )
    body = "\n\n".join([alert.message, _("Veja o uso no painel: %(link)s") % {"link": link}])
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:
        BillingAlert.objects.filter(pk=alert_id).update(emailed_at=None)  # let a retry send it
        raise
    return True


def alert_payload(alert: BillingAlert) -> dict:
    """The JSON the tenant's URL receives (documented in the README)."""
    if alert.kind == LimitKind.WHATSAPP:
        return {
            "id": f"alert_{alert.pk}",
            "type": "whatsapp.account_notice",
            "tenant": alert.tenant.slug,
            "message": alert.message,
            "occurred_at": alert.period_start.isoformat(),
            "created_at": alert.created_at.isoformat(),
        }
    return {
        "id": f"alert_{alert.pk}",
        "type": "plan.limit_alert",
        "tenant": alert.tenant.slug,
        "limit": alert.kind,
        "threshold": alert.threshold,
        "used": alert.used,
        "limit_value": alert.limit,
        "period_start": alert.period_start.isoformat(),
        "message": alert.message,
        "created_at": alert.created_at.isoformat(),
    }


class WebhookDeliveryError(Exception):
    """The tenant's URL did not take the alert; retry later."""


def alert_webhook(*, alert_id: int) -> bool:
    """POST the alert to the tenant's URL, signed. True when delivered now.

    Raises WebhookDeliveryError for answers worth retrying (timeouts, 429, 5xx); other
    refusals (4xx) are recorded on the alert and not retried.
    """
    from config import http

    alert = BillingAlert.objects.select_related("tenant").filter(pk=alert_id).first()
    if alert is None or alert.webhook_sent_at is not None:
        return False
    config = BillingSettings.objects.filter(tenant_id=alert.tenant_id).first()
    if config is None or not config.alert_webhook_url:
        return False
    if not config.alert_webhook_secret:
        BillingAlert.objects.filter(pk=alert_id).update(
            webhook_error=_("URL configurada sem segredo: o aviso não foi enviado.")
        )
        return False
    body = json.dumps(alert_payload(alert), ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(timezone.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signing.sign(
            secret=config.alert_webhook_secret, timestamp=timestamp, body=body
        ),
    }
    BillingAlert.objects.filter(pk=alert_id).update(webhook_attempts=alert.webhook_attempts + 1)
    # What the admin shows (webhook_error) is ours, never the remote answer: the URL is the
    # tenant's, and its status or error text would tell what our network can reach. The
    # answer itself is logged here, on the server.
    try:
        response = http.tenant_request("POST", config.alert_webhook_url, data=body, headers=headers)
    except http.HTTPTooLarge as exc:
        logger.warning(
            "alert webhook answer too large", extra={"alert_id": alert_id, "error": str(exc)}
        )
        BillingAlert.objects.filter(pk=alert_id).update(
            webhook_error=_("O endereço respondeu de forma inesperada; confira a URL.")
        )
        return False
    except http.HTTPRefused as exc:  # the egress policy's own text (pt-BR)
        BillingAlert.objects.filter(pk=alert_id).update(
            webhook_error=(_("URL recusada: %(reason)s") % {"reason": exc})[:500]
        )
        return False
    except http.HTTPError as exc:
        logger.warning("alert webhook unreachable", extra={"alert_id": alert_id, "error": str(exc)})
        BillingAlert.objects.filter(pk=alert_id).update(
            webhook_error=_("Sem resposta do endereço; nova tentativa em alguns minutos.")
        )
        raise WebhookDeliveryError(str(exc)) from exc
    if 200 <= response.status_code < 300:
        BillingAlert.objects.filter(pk=alert_id).update(
            webhook_sent_at=timezone.now(), webhook_error=""
        )
        return True
    retry = response.status_code == 429 or response.status_code >= 500
    logger.warning(
        "alert webhook refused",
        extra={
            "alert_id": alert_id,
            "status": response.status_code,
            "body": response.text[:500],
            "retry": retry,
        },
    )
    error = (
        _("O endereço não aceitou o aviso (erro temporário); nova tentativa em alguns minutos.")
        if retry
        else _("O endereço não aceitou o aviso; confira a URL e o segredo no seu sistema.")
    )
    BillingAlert.objects.filter(pk=alert_id).update(webhook_error=error)
    if retry:
        raise WebhookDeliveryError(f"HTTP {response.status_code}")
    return False


def redeliver(*, older_than_seconds: int = 300) -> int:
    """Re-enqueue alerts whose email never went out (broker down when they were raised)."""
    now = timezone.now()
    stuck = BillingAlert.objects.filter(
        emailed_at__isnull=True,
        created_at__lt=now - timedelta(seconds=older_than_seconds),
        created_at__gte=now - timedelta(days=2),
    ).values_list("pk", flat=True)
    count = 0
    from billing import tasks

    for alert_id in stuck:
        tasks.bulk_alert_email.delay(alert_id)
        count += 1
    return count
