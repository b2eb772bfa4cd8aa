"""Reactivation: the daily "we miss you" template to customers who went quiet.

At REACTIVATION_HOUR (10:00) in each tenant's time zone — the task runs hourly and acts for
the tenants whose local hour it is — each active bot with an approved template of purpose
"reactivation" sends it to its customers who:

* last wrote to that bot more than N days ago (bot option `reactivation_inactive_days`,
  default REACTIVATION_INACTIVE_DAYS = 30);
* have not opted out (Cliente.optout_em, asked again at send time);
* got no reactivation in the last M days (bot option `reactivation_cooldown_days`, default
  REACTIVATION_COOLDOWN_DAYS), from any bot of the tenant;
* are not waiting for or talking to a person.

Never free-form: outside the 24-hour window Meta accepts only approved templates
(Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows), and this job sends the template even inside it. At most
REACTIVATION_MAX_PER_RUN customers per bot and run, oldest silence first; each send is a
task on the bulk queue, spread by countdowns at REACTIVATION_SENDS_PER_SECOND (never above
the number's own rate), and the outbound token bucket paces them again, so replies to
customers keep their throughput.

Idempotent per window (the tenant's local date): one ReactivationSend per customer and
day (unique), claimed pending -> sending by one worker. A send interrupted between claim
and queueing is not retried: a missed "we miss you" is better than a duplicate one.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from billing.models import Tenant
from chatbots import outbox
from chatbots.models import Chatbot, Message, MessageTemplate
from clientes.models import Cliente
from compliance.models import ReactivationSend

logger = logging.getLogger(__name__)

PURPOSE = "reactivation"
MAX_COUNTDOWN = 1800.0
REACTIVATIONS = Counter(
    "compliance_reactivation_total",
    "Reactivation sends, by outcome",
    ["outcome"],  # scheduled | queued | refused
)
Status = ReactivationSend.Status


def reactivation_template(
    *, chatbot: Chatbot, cliente: Cliente | None = None
) -> MessageTemplate | None:
    return outbox.approved_template(chatbot=chatbot, purpose=PURPOSE, cliente=cliente)


def _option_days(chatbot: Chatbot, name: str, default: int) -> int:
    try:
        value = int(chatbot.options.get(name) or default)
    except (TypeError, ValueError):
        return default
    return value if value > 0 else default


def tenants_due(*, now: datetime) -> list[tuple[Tenant, date]]:
    """Active tenants whose local time is REACTIVATION_HOUR now, with their local date."""
    zones = set(Tenant.objects.filter(active=True).values_list("time_zone", flat=True))
    due_zones = {}
    for zone in zones:
        try:
            local = now.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("tenant time zone unknown; reactivation skipped", extra={"tz": zone})
            continue
        if local.hour == settings.REACTIVATION_HOUR:
            due_zones[zone] = local.date()
    tenants = Tenant.objects.filter(active=True, time_zone__in=list(due_zones)).order_by("pk")
    return [(tenant, due_zones[tenant.time_zone]) for tenant in tenants]


def reactivation_schedule(*, chatbot: Chatbot, window: date, now: datetime) -> list[int]:
    """Create this window's sends of `chatbot` and queue them; return the queued send ids."""
    inactive = _option_days(
        chatbot, "reactivation_inactive_days", settings.REACTIVATION_INACTIVE_DAYS
    )
    cooldown = _option_days(
        chatbot, "reactivation_cooldown_days", settings.REACTIVATION_COOLDOWN_DAYS
    )
    recent = ReactivationSend.objects.filter(
        tenant_id=chatbot.tenant_id, created_at__gte=now - timedelta(days=cooldown)
    ).values("cliente_id")
    candidates = list(
        outbox.conversations_gone_quiet(chatbot=chatbot, since=now - timedelta(days=inactive))
        .filter(cliente__optout_em__isnull=True)
        .exclude(cliente_id__in=recent)
        .values_list("cliente_id", flat=True)[: settings.REACTIVATION_MAX_PER_RUN]
    )
    with transaction.atomic():
        ReactivationSend.objects.bulk_create(
            [
                ReactivationSend(
                    tenant_id=chatbot.tenant_id, chatbot=chatbot, cliente_id=cid, window=window
                )
                for cid in candidates
            ],
            ignore_conflicts=True,  # a second run in the same window adds nothing
        )
        # Also the pending ones of an earlier run of this window whose tasks were lost.
        pending = list(
            ReactivationSend.objects.filter(chatbot=chatbot, window=window, status=Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)[: settings.REACTIVATION_MAX_PER_RUN]
        )
        transaction.on_commit(partial(_enqueue, pending, chatbot.messages_per_second))
    REACTIVATIONS.labels(outcome="scheduled").inc(len(pending))
    return pending


def _enqueue(send_ids: list[int], number_rate: int) -> None:
    from compliance.tasks import reactivation_send

    rate = float(settings.REACTIVATION_SENDS_PER_SECOND)
    if number_rate:
        rate = min(rate, float(number_rate))
    for index, send_id in enumerate(send_ids):
        # Bounded far below the broker's visibility timeout (1 h), so a waiting task is never
        # redelivered; beyond it the outbound token bucket does the pacing.
        countdown = min(index / rate, MAX_COUNTDOWN)
        try:
            reactivation_send.apply_async(
                (send_id,), countdown=countdown, queue=settings.CELERY_QUEUE_BULK
            )
        except Exception:
            # Broker down: the rows stay pending and the next run of the window queues them.
            logger.exception(
                "could not queue reactivation sends", extra={"left": len(send_ids) - index}
            )
            return


def reactivation_run(*, now: datetime | None = None) -> int:
    """The hourly job: schedule the sends of every tenant whose local time is 10:xx."""
    now = now or timezone.now()
    scheduled = 0
    for tenant, window in tenants_due(now=now):
        for chatbot in Chatbot.objects.filter(tenant=tenant, active=True).order_by("pk"):
            if reactivation_template(chatbot=chatbot) is None:
                continue
            scheduled += len(reactivation_schedule(chatbot=chatbot, window=window, now=now))
    logger.info("reactivation run", extra={"scheduled": scheduled})
    return scheduled


def _first_name(nome: str) -> str:
    parts = (nome or "").split()
    return parts[0] if parts else _("cliente")


def reactivation_send(*, send_id: int) -> ReactivationSend | None:
    """Send one scheduled reactivation (the body of tasks.reactivation_send)."""
    if not ReactivationSend.objects.filter(pk=send_id, status=Status.PENDING).update(
        status=Status.SENDING
    ):
        return None  # sent by another worker, or the customer was erased meanwhile
    send = ReactivationSend.objects.select_related("chatbot__tenant", "cliente").get(pk=send_id)
    registered = reactivation_template(chatbot=send.chatbot, cliente=send.cliente)
    if registered is None or registered.param_count > 1:
        # Only 0 or 1 parameter (the customer's first name) can be filled in here.
        code = "no_template" if registered is None else "template_params_mismatch"
        ReactivationSend.objects.filter(pk=send_id).update(status=Status.REFUSED, error_code=code)
        REACTIVATIONS.labels(outcome="refused").inc()
        return None
    params = [_first_name(send.cliente.nome)] if registered.param_count == 1 else []
    row = outbox.send_to_customer(
        chatbot=send.chatbot,
        cliente=send.cliente,
        message=outbox.Template(name=registered.name, language=registered.language, params=params),
        reason=PURPOSE,
        proactive=True,
    )
    queued = row.status != Message.Status.FAILED
    ReactivationSend.objects.filter(pk=send_id).update(
        status=Status.QUEUED if queued else Status.REFUSED,
        message=row,
        error_code="" if queued else row.error_code[:32],
    )
    REACTIVATIONS.labels(outcome="queued" if queued else "refused").inc()
    send.refresh_from_db()
    return send
