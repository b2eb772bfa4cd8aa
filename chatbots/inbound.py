"""Inbound events: stored before the webhook answers, then claimed, processed, swept.

The life of an InboundEvent row:

    pending ──claim()──▶ processing ──▶ done | failed | ignored
       ▲                      │
       └──── sweep() ◀────────┘  (worker lost: processing for more than 10 minutes)
       └──── requeue() ◀──── done | failed | ignored  (admin "process again")

Customers' messages usually skip `processing`: the processor (chatbots.processor) takes
them straight from pending to done or failed inside the one batch transaction that holds
their contacts' locks (lock_contacts_next); a crash then rolls them back to pending.

`store_events` inserts with ON CONFLICT DO NOTHING on (provider, external_id), so a
provider's retries and duplicate deliveries (Meta retries for up to 7 days and sends to
every subscribed app, Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started) insert nothing and enqueue nothing. Every task
takes an id and claims its row with a conditional UPDATE, so a task delivered twice, or a
row enqueued by both the webhook and the sweeper, is processed once.

While a row is `processing`, `processed_at` holds the time it was claimed; whoever finishes
it overwrites it with the finish time. That is how `sweep` tells a stuck row from a busy one
without another column.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from datetime import timedelta
from functools import partial

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import F, Max, Q, Value
from django.db.models.fields import DateTimeField
from django.db.models.functions import Coalesce
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from prometheus_client import Counter

from billing import template_costs
from chatbots.models import Chatbot, InboundEvent, Message, MessageTemplate
from chatbots.outbox import watch
from chatbots.outbox.sending import FAILED
from chatbots.wire import InboundAccountEvent, InboundMessage, InboundPreference, InboundStatus

logger = logging.getLogger(__name__)

# Rows per INSERT. Meta batches up to 1,000 updates per POST (Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started), so any
# Meta batch is one statement; 1,000 × 13 parameters stays below PostgreSQL's 65,535 and
# SQLite's 32,766 bound parameters.
INSERT_CHUNK = 1000
SWEEP_BATCH = 500
# A claimed row older than this lost its worker (task time limit is 6 minutes).
STUCK_AFTER = timedelta(minutes=10)
# A row whose worker died this many times is a poison message: stop retrying it.
MAX_ATTEMPTS = 5

INBOUND_EVENTS = Counter(
    "chatbot_inbound_events_total",
    "Inbound messages and statuses received by the webhooks",
    ["provider", "kind", "result"],  # result: stored | duplicate
)

State = InboundEvent.State

# Queues processing of one event id; set at start-up by register_dispatcher.
_dispatch: Callable[[int], object] | None = None

_INSERT_FIELDS = (
    "tenant",
    "provider",
    "chatbot",
    "external_id",
    "kind",
    "contact_key",
    "occurred_at",
    "payload",
    "raw",
    "state",
    "attempts",
    "last_error",
    "received_at",
)


# --- Storing -----------------------------------------------------------------------------------


def event_key(item: InboundMessage | InboundStatus | InboundPreference) -> tuple[str, str, str]:
    """(kind, external_id, contact_key) of a normalized record.

    A status is unique per (message id, status): Meta's deduplication rule (§1.6), and
    `sent`, `delivered` and `read` of one message are three different events.
    """
    if isinstance(item, InboundStatus):
        return InboundEvent.Kind.STATUS, f"{item.external_id}:{item.status}", item.recipient
    if isinstance(item, InboundPreference):
        return InboundEvent.Kind.PREFERENCE, item.external_id, item.contact_key
    if isinstance(item, InboundAccountEvent):
        return InboundEvent.Kind.ACCOUNT, item.external_id, ""
    return InboundEvent.Kind.MESSAGE, item.external_id, item.contact_key


def store_events(
    *, events: list[tuple[Chatbot, InboundMessage | InboundStatus | InboundPreference, dict]]
) -> list[int]:
    """Insert one pending InboundEvent per (bot, normalized record, raw JSON); return new ids.

    Records already stored (same provider and external id) are skipped by the database, so
    only newly inserted ids come back, and only those are enqueued for processing, after
    the transaction commits. Generic over providers: the record names its provider.
    """
    values = event_rows(events)
    if not values:
        return []
    inserted: list[tuple[int, str, str]] = []
    # One statement is atomic by itself: a batch that fits one INSERT (every Meta batch)
    # skips BEGIN/COMMIT, two of the webhook's five round trips to PostgreSQL.
    with transaction.atomic() if len(values) > INSERT_CHUNK else nullcontext():
        for start in range(0, len(values), INSERT_CHUNK):
            inserted += _insert_ignoring_duplicates(values[start : start + INSERT_CHUNK])
        new_ids = [event_id for event_id, _provider, _kind in inserted]
        transaction.on_commit(partial(enqueue, event_ids=new_ids))
    _count(values, inserted)
    return new_ids


def event_rows(
    events: list[tuple[Chatbot, InboundMessage | InboundStatus | InboundPreference, dict]],
) -> list[list]:
    """The INSERT's rows (_INSERT_FIELDS order), one per distinct (provider, external id)."""
    now = timezone.now()
    rows: dict[tuple[str, str], list] = {}
    for bot, item, raw in events:
        kind, external_id, contact_key = event_key(item)
        key = (item.provider, external_id[:255])
        if key in rows:
            continue  # the same update twice in one batch
        rows[key] = [
            bot.tenant_id,
            item.provider,
            bot.pk,
            key[1],
            kind,
            contact_key[:64],
            item.timestamp,
            item.to_dict(),
            raw,
            State.PENDING,
            0,
            "",
            now,
        ]
    return list(rows.values())


def _insert_ignoring_duplicates(rows: list[list]) -> list[tuple[int, str, str]]:
    """INSERT ... ON CONFLICT (provider, external_id) DO NOTHING RETURNING id, provider, kind.

    The ORM's bulk_create(ignore_conflicts=True) cannot tell which rows were new. This
    statement works on PostgreSQL and on SQLite 3.35+ (RETURNING), the embedded default.
    """
    meta = InboundEvent._meta
    fields = [meta.get_field(name) for name in _INSERT_FIELDS]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "
        + ", ".join([row_sql] * len(rows))
        + f" ON CONFLICT ({qn('provider')}, {qn('external_id')}) DO NOTHING"
        + f" RETURNING {qn(meta.pk.column)}, {qn('provider')}, {qn('kind')}"
    )
    params = [
        field.get_db_prep_save(value, connection)
        for row in rows
        for field, value in zip(fields, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def _count(rows: list[list], inserted: list[tuple[int, str, str]]) -> None:
    offered = collections.Counter((row[1], row[4]) for row in rows)
    stored = collections.Counter((provider, kind) for _id, provider, kind in inserted)
    for (provider, kind), total in offered.items():
        new = stored[(provider, kind)]
        INBOUND_EVENTS.labels(provider=provider, kind=kind, result="stored").inc(new)
        INBOUND_EVENTS.labels(provider=provider, kind=kind, result="duplicate").inc(total - new)


def register_dispatcher(dispatch: Callable[..., object]) -> None:
    """Set who queues processing of a stored event: `dispatch(event_id)` now, and
    `dispatch(event_id, delay)` in `delay` seconds (enqueue_later).

    The conversation layer registers its task at start-up (chatbots.apps, with
    chatbots.tasks.dispatch_inbound), so this module, part of the messaging core, never
    imports the engine. Registering again replaces the dispatcher.
    """
    global _dispatch
    _dispatch = dispatch


def enqueue(*, event_ids: Iterable[int]) -> int:
    """Queue processing of each event; return how many were queued.

    A broker outage must not lose the webhook's 200: the rows are stored and stay pending,
    and the sweeper queues them again. So errors are logged, not raised, and the first one
    stops the loop (each further try would wait for the broker's connection timeout).
    No dispatcher registered is a deployment error, raised: nothing would ever process.
    """
    dispatch = _dispatch
    if dispatch is None:
        raise ImproperlyConfigured(
            "No inbound dispatcher is registered, so stored webhook events would never be "
            "processed. chatbots.apps.ChatbotsConfig.ready() registers it: check that "
            "'chatbots' (or 'chatbots.apps.ChatbotsConfig') is in INSTALLED_APPS."
        )
    queued = 0
    event_ids = list(event_ids)
    for event_id in event_ids:
        try:
            dispatch(event_id)
        except Exception:
            logger.exception(
                "could not queue inbound events; the sweeper will retry them",
                extra={"not_queued": len(event_ids) - queued},
            )
            break
        queued += 1
    return queued


def enqueue_later(*, event_id: int, delay: float) -> bool:
    """Queue processing of one event in `delay` seconds (the engine waiting for a burst to
    end, chatbots.bursts); return whether it was queued.

    Like `enqueue`, a broker error is logged, not raised: the event stays pending and the
    sweeper queues it again. The dispatcher is called as `dispatch(event_id, delay)`.
    """
    dispatch = _dispatch
    if dispatch is None:
        raise ImproperlyConfigured("No inbound dispatcher is registered (see enqueue).")
    try:
        dispatch(event_id, delay)
    except Exception:
        logger.exception(
            "could not queue an inbound event for later; the sweeper will retry it",
            extra={"event_id": event_id},
        )
        return False
    return True


# --- Claiming, sweeping, replaying ---------------------------------------------------------------


def claim(event_id: int) -> InboundEvent | None:
    """Take a pending event for processing (pending -> processing, attempts + 1).

    Returns the event with its chatbot, or None when another worker has it or it is
    already finished. The UPDATE is conditional, so exactly one caller wins.
    """
    won = InboundEvent.objects.filter(pk=event_id, state=State.PENDING).update(
        state=State.PROCESSING, attempts=F("attempts") + 1, processed_at=timezone.now()
    )
    if not won:
        return None
    return InboundEvent.objects.select_related("chatbot").get(pk=event_id)


def sweep(*, older_than_seconds: int = 60) -> int:
    """Queue again what the normal path lost; return how many events were queued.

    * rows `processing` for longer than STUCK_AFTER lost their worker: back to pending
      (or to failed after MAX_ATTEMPTS tries, so a message that kills workers stops);
    * rows `pending` for longer than `older_than_seconds` were never queued (broker down)
      or their task was lost: queued again.

    At most SWEEP_BATCH rows per run, oldest first; the periodic task runs every minute.
    """
    now = timezone.now()
    stuck_before = now - STUCK_AFTER
    stuck = Q(state=State.PROCESSING) & (
        Q(processed_at__lt=stuck_before)
        | Q(processed_at__isnull=True, received_at__lt=stuck_before)
    )
    stuck_ids = list(
        InboundEvent.objects.filter(stuck)
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    if stuck_ids:
        with transaction.atomic():
            dead = InboundEvent.objects.filter(stuck, id__in=stuck_ids, attempts__gte=MAX_ATTEMPTS)
            given_up = dead.update(
                state=State.FAILED,
                processed_at=now,
                last_error=f"worker lost {MAX_ATTEMPTS} times while processing; not retried",
            )
            recovered = InboundEvent.objects.filter(stuck, id__in=stuck_ids).update(
                state=State.PENDING
            )
        logger.warning(
            "inbound events stuck in processing",
            extra={"recovered": recovered, "given_up": given_up},
        )
    pending_ids = list(
        InboundEvent.objects.filter(
            state=State.PENDING, received_at__lt=now - timedelta(seconds=older_than_seconds)
        )
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    return enqueue(event_ids=pending_ids) if pending_ids else 0


def requeue(*, event_ids: list[int]) -> int:
    """Process events again (admin "process again", replay_inbound); return how many.

    Finished or pending events go back to pending, attempts and last error kept for the
    record, and are queued after commit. Events being processed right now are left alone.
    """
    finished = [State.DONE, State.FAILED, State.IGNORED, State.PENDING]
    with transaction.atomic():
        ids = list(
            InboundEvent.objects.filter(id__in=event_ids, state__in=finished).values_list(
                "id", flat=True
            )
        )
        count = InboundEvent.objects.filter(id__in=ids, state__in=finished).update(
            state=State.PENDING, processed_at=None
        )
        transaction.on_commit(partial(enqueue, event_ids=ids))
    return count


# --- Status updates ----------------------------------------------------------------------------

MS = Message.Status
# Forward only (§1.4): queued/sending -> sent -> delivered -> read. `read` may come without
# `delivered` (both at once) and implies it. Statuses arrive out of order (§1.6), so each
# target lists the states it may move from; anything else is a late arrival and a no-op.
# `failed` is final against `sent` and earlier news, but a later `delivered` or `read`
# proves the customer got the message after all and wins (the error stays recorded).
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    MS.SENT: (MS.QUEUED, MS.SENDING),
    MS.DELIVERED: (MS.QUEUED, MS.SENDING, MS.SENT, MS.FAILED),
    MS.READ: (MS.QUEUED, MS.SENDING, MS.SENT, MS.DELIVERED, MS.FAILED),
    MS.FAILED: (MS.QUEUED, MS.SENDING, MS.SENT),
}
# `played` (a voice message was played) means the customer opened it: read.
STATUS_ALIASES = {"played": MS.READ}
STATUSES = Counter(
    "chatbot_outbound_status_total",
    "Outbound messages moved by the provider's status webhooks (sent, delivered, read, failed)",
    ["status"],
)


def apply_status(event: InboundEvent) -> None:
    """Move our outbound Message forward by a status event, then finish the event.

    The Message is the tenant's one with provider_message_id == wamid. The UPDATE is
    conditional on the allowed predecessors, so two workers applying `read` and a late
    `delivered` concurrently can never move it backwards. The event ends `done`, or
    `ignored` when the message is not ours or the status is one we do not track.
    """
    status = InboundStatus.from_dict(event.payload)
    target = STATUS_ALIASES.get(status.status, status.status)
    messages = Message.objects.filter(
        tenant_id=event.tenant_id,
        provider_message_id=status.external_id,
        direction=Message.Direction.OUT,
    )
    with transaction.atomic():
        if target not in ALLOWED_FROM:
            finish(event, State.IGNORED, f"status {status.status!r} is not tracked")
            return
        delivered_templates = (
            list(
                messages.filter(
                    status__in=ALLOWED_FROM[target], delivered_at__isnull=True, type="template"
                ).values("payload", "conversation__chatbot_id", "conversation__cliente__telefone")
            )
            if target in (MS.DELIVERED, MS.READ)
            else []
        )
        moved = messages.filter(status__in=ALLOWED_FROM[target]).update(
            status=target, **_status_fields(target, status)
        )
        if moved:
            STATUSES.labels(status=target).inc(moved)
            if target == MS.FAILED:
                # Most refusals come here, after the send was accepted (131047 re-engagement,
                # 131026 undeliverable: Meta's error codes page, cited in
                # deploy/prometheus/alerts.yml): the same counter as the send's own failures,
                # so one error-code alert sees both.
                FAILED.labels(code=status.error_code[:32] or "unknown").inc(moved)
            for row in delivered_templates:
                _count_template_cost(event.tenant_id, row, status.timestamp)
            watch.status_changed(
                tenant_id=event.tenant_id,
                external_id=status.external_id,
                status=target,
                error=status.error_code,
            )
        if moved or messages.exists():
            finish(event, State.DONE)
        else:
            finish(event, State.IGNORED, "no outbound message with this id")


def _count_template_cost(tenant_id: int, row: dict, at) -> None:
    """A template's first delivery costs what Meta charges for its category in the
    customer's country (billing.template_costs)."""
    payload = row["payload"] or {}
    category = (
        MessageTemplate.objects.filter(
            chatbot_id=row["conversation__chatbot_id"],
            name=payload.get("name", ""),
            language=payload.get("language", ""),
        )
        .values_list("category", flat=True)
        .first()
    )
    template_costs.template_delivered(
        tenant_id=tenant_id,
        category=category or MessageTemplate.Category.UTILITY,
        phone=row["conversation__cliente__telefone"] or "",
        at=at,
    )


def _status_fields(target: str, status: InboundStatus) -> dict:
    at = Value(status.timestamp, output_field=DateTimeField())

    def first(name: str) -> Coalesce:  # keep the earliest time we already know
        return Coalesce(F(name), at)

    if target == MS.SENT:
        return {"sent_at": first("sent_at")}
    if target == MS.DELIVERED:
        return {"sent_at": first("sent_at"), "delivered_at": first("delivered_at")}
    if target == MS.READ:
        return {
            "sent_at": first("sent_at"),
            "delivered_at": first("delivered_at"),
            "read_at": first("read_at"),
        }
    detail = ": ".join(p for p in (status.error_title, status.error_detail) if p)
    return {
        "failed_at": status.timestamp,
        "error_code": status.error_code[:32],
        "error_detail": detail,
    }


def finish(event: InboundEvent, state: str, error: str = "") -> None:
    """Record a claimed event's end: `state` (done, failed, ignored) and why, if anything."""
    event.state, event.last_error, event.processed_at = state, error, timezone.now()
    InboundEvent.objects.filter(pk=event.pk).update(
        state=state, last_error=error, processed_at=event.processed_at
    )


def lock_contact(*, chatbot_id: int, contact_key: str) -> None:
    """Hold the (bot, contact) lock until the current transaction ends.

    Every turn runs under it, so one contact's messages are processed one at a time and in
    order. Code outside a turn that writes into the conversation (the assistant saving an
    answer the model gave later) takes it too, so it never interleaves with a turn.
    `contact_key` is the event's InboundEvent.contact_key. Call it inside
    transaction.atomic(): the lock is released at commit or rollback, never held longer.
    """
    if not connection.in_atomic_block:
        raise TransactionManagementError("lock_contact() must run inside transaction.atomic()")
    if connection.vendor == "postgresql":
        # The bot and a hash of the contact (PostgreSQL's hashtext, so that SQL can take the
        # same lock: lock_contacts_next). Collisions only serialize two contacts.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", [chatbot_id, contact_key]
            )


# How many contacts with pending messages lock_contacts_next looks at per contact it takes.
LOOK_AHEAD = 4


def lock_contacts_next(limit: int) -> list[tuple[int, str]]:
    """Lock and return up to `limit` (chatbot id, contact key) with pending messages, in one
    statement: the contacts whose newest pending message is oldest first (a contact still
    typing a burst comes last), skipping those another consumer holds.

    The lock is lock_contact's, taken without waiting and held until the transaction ends:
    whoever holds a contact answers its messages, in order. On SQLite (one consumer,
    IMMEDIATE transactions serialize writers) no lock is needed.
    """
    if not connection.in_atomic_block:
        raise TransactionManagementError(
            "lock_contacts_next() must run inside transaction.atomic()"
        )
    if connection.vendor != "postgresql":
        rows = (
            InboundEvent.objects.filter(state=State.PENDING, kind=InboundEvent.Kind.MESSAGE)
            .values_list("chatbot_id", "contact_key")
            .annotate(newest=Max("received_at"))
            .order_by("newest")[:limit]
        )
        return [(bot, key) for bot, key, _newest in rows]
    qn = connection.ops.quote_name
    # The inner LIMIT keeps the subquery from being flattened, so the lock function runs on
    # candidates in order and stops at the outer LIMIT: nothing is locked and left unused.
    sql = (
        "SELECT c.chatbot_id, c.contact_key FROM ("
        f" SELECT {qn('chatbot_id')}, {qn('contact_key')}, MAX({qn('received_at')}) AS newest"
        f" FROM {qn(InboundEvent._meta.db_table)}"
        f" WHERE {qn('state')} = %s AND {qn('kind')} = %s"
        f" GROUP BY {qn('chatbot_id')}, {qn('contact_key')} ORDER BY newest LIMIT %s"
        ") AS c WHERE pg_try_advisory_xact_lock(c.chatbot_id::int, hashtext(c.contact_key))"
        " LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [State.PENDING, InboundEvent.Kind.MESSAGE, limit * LOOK_AHEAD, limit])
        return [(bot, key) for bot, key in cursor.fetchall()]
