"""Retention: data is not kept longer than needed (LGPD art. 15 and 16).

Per tenant (RetentionPolicy; a blank field, or no policy, uses the settings' default):

* message texts older than RETENTION_MESSAGE_TEXT_DAYS: `text` and `payload` blanked, the
  row kept (the conversation still shows that a message was sent, and when);
* raw webhook records (InboundEvent) older than RETENTION_RAW_WEBHOOK_DAYS, once processed:
  deleted;
* audit entries older than RETENTION_AUDIT_DAYS: deleted (the only way they go);
* other texts about customers that apps above register (`text_source_register`: the
  inbox's internal notes, the staff's internal chat), at the message-text age, each blanked
  or deleted as its app says.

Work goes in batches of RETENTION_BATCH_SIZE ids, each its own short transaction, walking
the primary key upwards (ids grow with time, so old rows come first and each run reads
every old row once), so no statement holds locks on many rows for long. Tenants that use
the defaults are done together in one pass; each tenant with its own policy in its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from prometheus_client import Counter

from chatbots.models import InboundEvent, Message
from compliance.models import AuditLog, RetentionPolicy
from media import services as media_services

logger = logging.getLogger(__name__)

RETENTION_ROWS = Counter(
    "compliance_retention_rows_total",
    "Rows blanked or deleted by the retention job",
    ["kind"],  # message_text | inbound_event | audit_log | a registered text source's kind
)


@dataclass(frozen=True)
class TextSource:
    """Rows of an app above (with `tenant_id` and a creation date) that hold what staff
    wrote about customers; `queryset()` gives the rows still holding text, `apply` blanks or
    deletes a batch of them and returns how many."""

    kind: str
    queryset: Callable[[], QuerySet]
    apply: Callable[[QuerySet], int]
    date_field: str = "created_at"


_TEXT_SOURCES: dict[str, TextSource] = {}


def text_source_register(source: TextSource) -> None:
    """Called from an AppConfig.ready: those apps sit above compliance in the layers."""
    _TEXT_SOURCES[source.kind] = source


UNFINISHED_EVENTS = (InboundEvent.State.PENDING, InboundEvent.State.PROCESSING)
OUTBOX = (Message.Status.QUEUED, Message.Status.SENDING)


@dataclass
class Policy:
    message_text_days: int
    raw_webhook_days: int
    audit_days: int


@dataclass
class RetentionReport:
    rows: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, rows: int, batches: int) -> None:
        self.rows[kind] = self.rows.get(kind, 0) + rows
        self.batches[kind] = self.batches.get(kind, 0) + batches


def default_policy() -> Policy:
    return Policy(
        message_text_days=settings.RETENTION_MESSAGE_TEXT_DAYS,
        raw_webhook_days=settings.RETENTION_RAW_WEBHOOK_DAYS,
        audit_days=settings.RETENTION_AUDIT_DAYS,
    )


def policy_for(row: RetentionPolicy | None) -> Policy:
    base = default_policy()
    if row is None:
        return base
    return Policy(
        message_text_days=row.message_text_days or base.message_text_days,
        raw_webhook_days=row.raw_webhook_days or base.raw_webhook_days,
        audit_days=row.audit_days or base.audit_days,
    )


def in_batches(
    queryset: QuerySet, apply: Callable[[QuerySet], int], *, batch_size: int
) -> tuple[int, int]:
    """Apply `apply` to the rows of `queryset`, `batch_size` ids at a time, in id order.

    Returns (rows affected, batches run). Each batch is one short transaction.
    """
    model: type[models.Model] = queryset.model
    total = batches = 0
    last_id = 0
    while True:
        ids = list(
            queryset.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            total += apply(model._default_manager.filter(pk__in=ids))
        batches += 1
        last_id = ids[-1]
        if len(ids) < batch_size:
            break
    return total, batches


def _blank_texts(qs: QuerySet) -> int:
    # A photo or voice note is content as much as the text: its file goes at the same age.
    media_services.attachments_delete(qs.values_list("pk", flat=True))
    return qs.update(text="", payload={})


def _delete(qs: QuerySet) -> int:
    return qs.delete()[0]


def _delete_audit(qs: QuerySet) -> int:
    return qs._retention_delete()


def _apply_policy(scope: Q, policy: Policy, report: RetentionReport, *, now, batch_size: int):
    """One pass over the rows of `scope` (a filter on tenant_id) with one policy."""
    messages = (
        Message.objects.filter(scope, created_at__lt=now - timedelta(days=policy.message_text_days))
        .exclude(status__in=OUTBOX)
        .exclude(text="", payload={})
    )
    report.add("message_text", *in_batches(messages, _blank_texts, batch_size=batch_size))
    events = InboundEvent.objects.filter(
        scope, received_at__lt=now - timedelta(days=policy.raw_webhook_days)
    ).exclude(state__in=UNFINISHED_EVENTS)
    report.add("inbound_event", *in_batches(events, _delete, batch_size=batch_size))
    entries = AuditLog.objects.filter(scope, created_at__lt=now - timedelta(days=policy.audit_days))
    report.add("audit_log", *in_batches(entries, _delete_audit, batch_size=batch_size))
    text_cutoff = now - timedelta(days=policy.message_text_days)
    for source in _TEXT_SOURCES.values():
        rows = source.queryset().filter(scope, **{f"{source.date_field}__lt": text_cutoff})
        report.add(source.kind, *in_batches(rows, source.apply, batch_size=batch_size))


def retention_run(*, now=None, batch_size: int | None = None) -> RetentionReport:
    """Apply every tenant's retention policy once. Safe to run at any time, any number of times."""
    now = now or timezone.now()
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    report = RetentionReport()
    custom = list(RetentionPolicy.objects.all())
    custom_ids = [row.tenant_id for row in custom]
    # Everyone on the defaults, including audit entries of no tenant (superuser logins).
    _apply_policy(
        ~Q(tenant_id__in=custom_ids) | Q(tenant_id__isnull=True),
        default_policy(),
        report,
        now=now,
        batch_size=batch_size,
    )
    for row in custom:
        _apply_policy(
            Q(tenant_id=row.tenant_id), policy_for(row), report, now=now, batch_size=batch_size
        )
    for kind, rows in report.rows.items():
        RETENTION_ROWS.labels(kind=kind).inc(rows)
    logger.info(
        "retention run",
        extra={"rows": report.rows, "batches": report.batches, "policies": len(custom) + 1},
    )
    return report
