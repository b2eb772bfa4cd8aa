"""Usage metering: count messages and AI tokens as they happen, without slowing the message path.

With Redis (production), `record` is one MULTI/EXEC round trip: HINCRBY on the tenant's hash
for today plus SADD of that hash to a "dirty" set. No SQL. A periodic task (`flush`, every
30 s, config/schedule.py) moves the counters into `DailyUsage` rows:

1. **Snapshot** (one Lua script, atomic in Redis): every dirty hash is added into a new
   batch hash `billing:usage:batch:<uuid>` and deleted, and the batch id is put in the set of
   pending batches. A `record` that runs after the script recreates the day hash and marks it
   dirty again, so nothing recorded during a flush is lost: it goes to the next batch.
2. **Apply**: in ONE database transaction, insert `UsageFlush(batch_id)` (unique) and add
   the batch's counters to the daily rows with `F()` expressions.
3. **Forget**: delete the batch hash and its id from the pending set.

A crash before step 2 commits leaves the batch in Redis and the database untouched: the next
flush applies it. A crash after the commit but before step 3 leaves a batch whose
`UsageFlush` row exists: the next flush sees the row, skips the additions and only forgets
it. Two flushes applying the same batch at once meet on the unique `UsageFlush` row and only
one adds. So a batch is added exactly once.

Without Redis (the embedded mode), `record` adds to the daily row directly with
`UPDATE ... SET x = x + n` inside the caller's transaction: correct across processes
(the database serializes the writes), a little slower, and `flush` has nothing to do.

Days are local days of settings.TIME_ZONE (America/Sao_Paulo by default): `record` gets
only a tenant id and must stay free of SQL, so it cannot read the tenant's own time zone.
"""

from __future__ import annotations

import collections
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache, partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from prometheus_client import Counter

from billing.models import DailyUsage, Tenant, UsageFlush

logger = logging.getLogger(__name__)

PREFIX = "billing:usage:"
LIVE_PREFIX = PREFIX + "live:"  # + "<tenant_id>:<YYYY-MM-DD>" -> hash {in, out, tok}
DIRTY = PREFIX + "dirty"  # set of live hashes holding counts not yet snapshotted
BATCHES = PREFIX + "batches"  # set of batch ids snapshotted but not yet forgotten
BATCH_PREFIX = PREFIX + "batch:"  # + "<batch id>" -> hash {"<tenant>:<day>:<field>": n}

FIELDS = {"in": "messages_in", "out": "messages_out", "tok": "ai_tokens"}
# UsageFlush rows only need to outlive a crashed batch until the next flush (30 s later);
# a week is generous.
FLUSH_ROWS_KEPT = timedelta(days=7)
# Embedded mode: the flush reports tenants whose rows changed this recently (2 beat ticks).
EMBEDDED_RECENT = timedelta(seconds=90)

USAGE_RECORDED = Counter(
    "billing_usage_recorded_total", "Metered usage recorded", ["kind"]
)  # kind: messages_in, messages_out, ai_tokens

# Snapshot every dirty day hash into the batch KEYS[3] (see the module docstring).
_SNAPSHOT = """
local keys = redis.call('SMEMBERS', KEYS[1])
local moved = 0
for _, key in ipairs(keys) do
  local vals = redis.call('HGETALL', key)
  if #vals > 0 then
    local suffix = string.sub(key, string.len(ARGV[2]) + 1)
    for i = 1, #vals, 2 do
      redis.call('HINCRBY', KEYS[3], suffix .. ':' .. vals[i], vals[i + 1])
    end
    moved = moved + 1
  end
  redis.call('DEL', key)
  redis.call('SREM', KEYS[1], key)
end
if moved > 0 then
  redis.call('SADD', KEYS[2], ARGV[1])
end
return moved
"""


@dataclass(frozen=True)
class Usage:
    messages_in: int = 0
    messages_out: int = 0
    ai_tokens: int = 0
    estimated_cost: Decimal = Decimal("0")

    @property
    def messages(self) -> int:
        return self.messages_in + self.messages_out


# --- Costs -------------------------------------------------------------------------------


def cost_of(*, messages: int = 0, ai_tokens: int = 0) -> Decimal:
    """Estimated cost in R$ (BILLING_COST_PER_MESSAGE, BILLING_COST_PER_THOUSAND_TOKENS)."""
    per_message = Decimal(str(settings.BILLING_COST_PER_MESSAGE))
    per_thousand = Decimal(str(settings.BILLING_COST_PER_THOUSAND_TOKENS))
    return per_message * messages + per_thousand * ai_tokens / 1000


# --- Redis -------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _client_for(url: str):
    import redis

    # redis-py's pool is thread-safe and re-creates its connections after a fork (Celery's
    # prefork workers), so one client per process is right.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


@lru_cache(maxsize=4)
def _snapshot_script(url: str):
    return _client_for(url).register_script(_SNAPSHOT)  # EVALSHA, loaded once


def redis_client():
    """The Redis client of the metering counters, or None in the embedded mode."""
    url = getattr(settings, "REDIS_URL", "")
    return _client_for(url) if url else None


def _today() -> date:
    return timezone.localdate()


def live_key(tenant_id: int, day: date) -> str:
    return f"{LIVE_PREFIX}{tenant_id}:{day.isoformat()}"


# --- Recording ---------------------------------------------------------------------------


def record(
    *, tenant_id: int, messages_in: int = 0, messages_out: int = 0, ai_tokens: int = 0
) -> None:
    """Count usage for `tenant_id` today. O(1); no SQL with Redis.

    Inside a transaction the count is made when it commits, so a turn that rolls back (and
    is processed again later) is not counted twice. A Redis failure never breaks the
    caller: the count goes straight to the database instead.
    """
    counts = {"in": messages_in, "out": messages_out, "tok": ai_tokens}
    counts = {k: int(v) for k, v in counts.items() if v and v > 0}
    if not counts or not tenant_id:
        return
    for short, n in counts.items():
        USAGE_RECORDED.labels(kind=FIELDS[short]).inc(n)
    client = redis_client()
    if client is None:
        # Embedded mode: part of the caller's transaction, like the message it counts.
        _add_to_day(tenant_id, _today(), counts)
        return
    pending = getattr(_batch, "counts", None)
    if pending is not None:
        # Added up at commit, so a count made in a savepoint that rolled back (a turn of the
        # batch that failed) is dropped with it, like the on_commit below.
        transaction.on_commit(partial(_add_up, pending, (tenant_id, _today()), counts))
        return
    transaction.on_commit(partial(_incr, client, tenant_id, _today(), counts))


def _add_up(pending: dict, key: tuple[int, date], counts: dict[str, int]) -> None:
    day = pending[key]
    for short, n in counts.items():
        day[short] = day.get(short, 0) + n


_batch = threading.local()


@contextmanager
def batched() -> Iterator[None]:
    """Inside it, `record` only adds up; the sums go to Redis in ONE pipeline when the
    transaction that encloses the block commits (nothing when it rolls back, and nothing
    of a savepoint inside it that rolled back). The inbound processor counts a whole batch
    of turns this way (chatbots.processor). Enter it inside `transaction.atomic()`. Without
    Redis, `record` writes to the database as always."""
    client = redis_client()
    if client is None or getattr(_batch, "counts", None) is not None:
        yield
        return
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    _batch.counts = counts
    try:
        yield
    finally:
        _batch.counts = None
    # Registered last, so it runs after every addition the commit keeps.
    transaction.on_commit(partial(_incr_many, client, counts))


def _incr_many(client, counts: dict[tuple[int, date], dict[str, int]]) -> None:
    if not counts:
        return
    try:
        pipe = client.pipeline(transaction=True)
        for (tenant_id, day), fields in counts.items():
            key = live_key(tenant_id, day)
            for short, n in fields.items():
                pipe.hincrby(key, short, n)
            pipe.sadd(DIRTY, key)
        pipe.execute()
    except Exception:
        logger.exception("usage counters unavailable in Redis; adding to the database")
        for (tenant_id, day), fields in counts.items():
            _add_to_day(tenant_id, day, fields)


def count_sent(outgoing) -> None:
    """The outbox's on-sent hook (chatbots.outbox.gates; registered in billing.apps): one
    message out, counted once the provider accepted it."""
    record(tenant_id=outgoing.tenant_id, messages_out=1)


def count_sent_many(outgoings) -> None:
    """`count_sent` for a sender's batch: one count (one Redis pipeline) per tenant."""
    per_tenant = collections.Counter(outgoing.tenant_id for outgoing in outgoings)
    for tenant_id, count in per_tenant.items():
        record(tenant_id=tenant_id, messages_out=count)


def _incr(client, tenant_id: int, day: date, counts: dict[str, int]) -> None:
    key = live_key(tenant_id, day)
    try:
        pipe = client.pipeline(transaction=True)
        for short, n in counts.items():
            pipe.hincrby(key, short, n)
        pipe.sadd(DIRTY, key)
        pipe.execute()
    except Exception:
        logger.exception("usage counters unavailable in Redis; adding to the database")
        _add_to_day(tenant_id, day, counts)


def _add_to_day(tenant_id: int, day: date, counts: dict[str, int]) -> None:
    """Add `counts` ({"in"|"out"|"tok": n}) to the tenant's row of `day` (created if new)."""
    values = {FIELDS[short]: int(n) for short, n in counts.items() if short in FIELDS}
    cost = cost_of(
        messages=values.get("messages_in", 0) + values.get("messages_out", 0),
        ai_tokens=values.get("ai_tokens", 0),
    )
    changes = {name: F(name) + n for name, n in values.items()}
    changes["estimated_cost"] = F("estimated_cost") + cost
    changes["updated_at"] = timezone.now()
    rows = DailyUsage.objects.filter(tenant_id=tenant_id, day=day)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():  # savepoint: losing the insert race must not spoil the caller
            DailyUsage.objects.create(tenant_id=tenant_id, day=day, estimated_cost=cost, **values)
    except IntegrityError:
        rows.update(**changes)  # another worker created the row first: add to it


# --- Flushing ----------------------------------------------------------------------------


def flush() -> set[int]:
    """Move the Redis counters into DailyUsage. Returns the ids of the tenants touched.

    Safe to run concurrently and to run again after a crash (module docstring).
    """
    client = redis_client()
    if client is None:
        # Embedded mode: record() wrote the rows already; report who changed lately, so the
        # caller checks their alerts.
        recent = timezone.now() - EMBEDDED_RECENT
        return set(
            DailyUsage.objects.filter(updated_at__gte=recent).values_list("tenant_id", flat=True)
        )
    touched: set[int] = set()
    # Batches left by a flush that crashed (or that another flush is applying right now).
    for raw_id in client.smembers(BATCHES):
        touched |= _apply_batch(client, raw_id.decode())
    batch_id = uuid.uuid4().hex
    snapshot = _snapshot_script(settings.REDIS_URL)
    moved = snapshot(keys=[DIRTY, BATCHES, BATCH_PREFIX + batch_id], args=[batch_id, LIVE_PREFIX])
    if moved:
        touched |= _apply_batch(client, batch_id)
    UsageFlush.objects.filter(applied_at__lt=timezone.now() - FLUSH_ROWS_KEPT).delete()
    return touched


def _apply_batch(client, batch_id: str) -> set[int]:
    key = BATCH_PREFIX + batch_id
    rows: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    for raw_field, raw_value in client.hgetall(key).items():
        tenant_id, day, short = raw_field.decode().split(":")
        rows[(int(tenant_id), date.fromisoformat(day))][short] = int(raw_value)
    if rows:
        tenant_ids = {t for t, _day in rows}
        # A tenant deleted since it was counted has no row to add to.
        existing = set(Tenant.objects.filter(pk__in=tenant_ids).values_list("pk", flat=True))
        with transaction.atomic():
            if _mark_applied(batch_id):
                for (tenant_id, day), counts in sorted(rows.items()):
                    if tenant_id in existing:
                        _add_to_day(tenant_id, day, counts)
            else:
                logger.info("usage batch already applied; forgetting it", extra={"batch": batch_id})
        touched = {t for t in tenant_ids if t in existing}
    else:
        touched = set()
    _forget_batch(client, batch_id)
    return touched


def _mark_applied(batch_id: str) -> bool:
    """Insert the batch's UsageFlush row; False when it exists (the batch was applied)."""
    try:
        with transaction.atomic():
            UsageFlush.objects.create(batch_id=batch_id)
    except IntegrityError:
        return False
    return True


def _forget_batch(client, batch_id: str) -> None:
    pipe = client.pipeline(transaction=True)
    pipe.delete(BATCH_PREFIX + batch_id)
    pipe.srem(BATCHES, batch_id)
    pipe.execute()


# --- Reading -----------------------------------------------------------------------------


def pending(*, tenant_id: int, days: list[date]) -> dict[date, dict[str, int]]:
    """Counts recorded in Redis for these days and not flushed yet ({} without Redis)."""
    client = redis_client()
    if client is None or not days:
        return {}
    try:
        pipe = client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(live_key(tenant_id, day))
        results = pipe.execute()
    except Exception:
        logger.warning("usage counters unavailable in Redis; showing flushed numbers only")
        return {}
    out: dict[date, dict[str, int]] = {}
    for day, raw in zip(days, results, strict=True):
        if raw:
            out[day] = {FIELDS[k.decode()]: int(v) for k, v in raw.items() if k.decode() in FIELDS}
    return out


def usage_between(
    *, tenant_id: int, first_day: date, last_day: date, include_pending: bool = True
) -> Usage:
    """Usage from `first_day` to `last_day` (inclusive): flushed rows plus, with
    `include_pending`, today's and yesterday's counters not flushed yet."""
    totals = DailyUsage.objects.filter(
        tenant_id=tenant_id, day__gte=first_day, day__lte=last_day
    ).aggregate(
        messages_in=Sum("messages_in"),
        messages_out=Sum("messages_out"),
        ai_tokens=Sum("ai_tokens"),
        estimated_cost=Sum("estimated_cost"),
    )
    values = {k: totals[k] or 0 for k in ("messages_in", "messages_out", "ai_tokens")}
    cost = totals["estimated_cost"] or Decimal("0")
    if include_pending:
        today = _today()
        recent = [d for d in (today - timedelta(days=1), today) if first_day <= d <= last_day]
        for counts in pending(tenant_id=tenant_id, days=recent).values():
            for name, n in counts.items():
                values[name] += n
            cost += cost_of(
                messages=counts.get("messages_in", 0) + counts.get("messages_out", 0),
                ai_tokens=counts.get("ai_tokens", 0),
            )
    return Usage(estimated_cost=cost, **values)
