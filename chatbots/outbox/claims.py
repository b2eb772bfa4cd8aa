"""The sender's two statements (chatbots.outbox.sender): the claim of a batch of rows and
the record of their outcomes, each one SQL statement on PostgreSQL.

The claim takes the oldest unsent row of up to `batch` conversations (the "head": queued,
due, and no older queued/sending row in its conversation), locked with FOR UPDATE SKIP
LOCKED so that several senders never claim the same head, plus the rows queued after it (at
most RUN a conversation), all moved to `sending` with the claim's lease deadline. The record
writes every outcome in one UPDATE ... FROM (VALUES ...) guarded by status = 'sending', so a
row the sweeper or a take-over (chatbots.outbox.journal) moved since is left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC

from django.db import connection
from django.utils import timezone

from chatbots.models import Conversation, Message
from chatbots.outbox import journal
from chatbots.outbox.sending import Outcome

# Rows of one conversation claimed in one round: a turn's replies go out together, and a
# long backlog of one customer cannot fill the batch.
RUN = 5

_COLUMNS = (
    "id",
    "conversation_id",
    "tenant_id",
    "payload",
    "attempts",
    "error_code",
    "error_detail",
    "provider_message_id",
    "sent_at",
    "failed_at",
)
# The columns an outcome may set (sending.Outcome.fields), written for every row.
_WRITTEN = (
    "status",
    "next_attempt_at",
    "attempts",
    "error_code",
    "error_detail",
    "provider_message_id",
    "sent_at",
    "failed_at",
)
_PG_TYPES = {
    "status": "varchar",
    "next_attempt_at": "timestamptz",
    "attempts": "integer",
    "error_code": "varchar",
    "error_detail": "text",
    "provider_message_id": "varchar",
    "sent_at": "timestamptz",
    "failed_at": "timestamptz",
}


def _claim_sql(vendor: str) -> str:
    table = Message._meta.db_table
    lock = "FOR UPDATE OF h SKIP LOCKED" if vendor == "postgresql" else ""
    returning = ", ".join(f"m.{c}" if vendor == "postgresql" else c for c in _COLUMNS)
    target = f"{table} AS m" if vendor == "postgresql" else table
    return f"""
WITH heads AS (
    SELECT h.id, h.conversation_id FROM {table} h
    WHERE h.direction = %(out)s AND h.status = %(queued)s
      AND (h.next_attempt_at IS NULL OR h.next_attempt_at <= %(now)s)
      AND NOT EXISTS (
        SELECT 1 FROM {table} e
        WHERE e.conversation_id = h.conversation_id AND e.direction = %(out)s
          AND e.status IN (%(queued)s, %(sending)s) AND e.id < h.id)
    -- In the order of message_outbox_idx (status, created_at), a partial index of the
    -- unsent rows: the claim never walks the table's history of sent messages.
    ORDER BY h.created_at, h.id
    LIMIT %(batch)s
    {lock}
), runs AS (
    SELECT r.id, row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.id) AS n
    FROM {table} r JOIN heads ON r.conversation_id = heads.conversation_id
    WHERE r.direction = %(out)s AND r.status = %(queued)s AND r.id >= heads.id
)
UPDATE {target} SET status = %(sending)s, next_attempt_at = %(lease)s
WHERE id IN (SELECT id FROM runs WHERE n <= %(run)s ORDER BY n, id LIMIT %(batch)s)
  AND status = %(queued)s
RETURNING {returning}
"""


def claim(*, batch: int, now=None, lease=None) -> list[Message]:
    """Claim up to `batch` rows (see the module docstring), in conversation and id order.
    One statement; the rows come back as unsaved Message objects with the claimed columns."""
    now = now or timezone.now()
    params = {
        "out": Message.Direction.OUT,
        "queued": Message.Status.QUEUED,
        "sending": Message.Status.SENDING,
        "now": now,
        "lease": lease or journal.lease_of(now),
        "batch": int(batch),
        "run": RUN,
    }
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor), params)
        fetched = cursor.fetchall()
    rows = []
    for values in fetched:
        data = dict(zip(_COLUMNS, values, strict=True))
        if isinstance(data["payload"], str):
            data["payload"] = json.loads(data["payload"])
        for name in ("sent_at", "failed_at"):
            data[name] = _aware(data[name])
        rows.append(
            Message(
                direction=Message.Direction.OUT,
                status=Message.Status.SENDING,
                **data,
            )
        )
    rows.sort(key=lambda row: (row.conversation_id, row.pk))
    return rows


def _aware(value):
    if isinstance(value, str):  # SQLite hands timestamps back as text
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


@dataclass
class Result:
    """What became of one claimed row."""

    row: Message
    outcome: Outcome
    conversation: Conversation | None
    fields: dict = field(default_factory=dict)  # every _WRITTEN column, to write


def _full_fields(result: Result) -> dict:
    row, fields = result.row, result.outcome.fields
    return {name: fields.get(name, getattr(row, name)) for name in _WRITTEN}


def record(results: list[Result]) -> set[int]:
    """Write every outcome; return the ids that were still ours (status `sending`)."""
    if not results:
        return set()
    for result in results:
        result.fields = _full_fields(result)
    if connection.vendor != "postgresql":
        moved = set()
        for result in results:
            if Message.objects.filter(pk=result.row.pk, status=Message.Status.SENDING).update(
                **result.fields
            ):
                moved.add(result.row.pk)
        return moved
    table = Message._meta.db_table
    placeholders, params = [], []
    for result in results:
        casts = ["%s::bigint"] + [f"%s::{_PG_TYPES[name]}" for name in _WRITTEN]
        placeholders.append(f"({', '.join(casts)})")
        params.append(result.row.pk)
        params.extend(result.fields[name] for name in _WRITTEN)
    columns = ", ".join(("id", *_WRITTEN))
    assignments = ", ".join(f"{name} = v.{name}" for name in _WRITTEN)
    sql = (
        f"UPDATE {table} AS m SET {assignments} "
        f"FROM (VALUES {', '.join(placeholders)}) AS v({columns}) "
        f"WHERE m.id = v.id AND m.status = %s RETURNING m.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Message.Status.SENDING])
        return {pk for (pk,) in cursor.fetchall()}
