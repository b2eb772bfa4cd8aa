"""Deferred writes of one processor batch: a turn's Message rows and conversation changes
go to PostgreSQL in a few statements for the whole batch instead of several per turn.

Inside `batch()` (chatbots.processor, PostgreSQL only) the engine hands its writes here
instead of executing them: `messages_add` (the customer's inbound rows, the queued
replies) and `conversation_changed` (the columns a turn changed). Each turn runs in
`turn()`: its writes wait in the turn's own list until it ends well, then join the
batch's. `flush()` writes the batch's lists in one INSERT for every Message (inbound rows
with ON CONFLICT DO NOTHING, as the engine's bulk_create(ignore_conflicts) did) and one
`UPDATE … FROM UNNEST(…)` for the conversations (a CASE per column keeps the columns a
turn did not change as they are in the row, so an attendant's change made meanwhile is
never overwritten).

Reading your own writes: every other statement executed inside the batch (a handler's
query, a watcher's, the events' UPDATE) first flushes what waits (an execute wrapper on
the connection: Django: https://docs.djangoproject.com/en/5.2/topics/db/instrumentation/),
so code that reads the database always sees what the turns before it wrote.

Failure isolation without a savepoint per turn: a turn that executes no statement of its
own (the common turn: the steps are cached, the customer and conversation were loaded with
the batch) needs none, because nothing of it reached the database; dropping its list (and
the on-commit hooks it registered) undoes it. The first statement a turn executes opens
its savepoint (after the batch's list is flushed, outside it), so a turn that does query
is rolled back exactly as before.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from chatbots.models import Conversation, Message

_local = threading.local()


@dataclass
class _Writes:
    messages: list[Message] = field(default_factory=list)
    # Conversation id -> {column attname: value}, as the turn that changed it left it (a
    # copy: a later turn that fails may change the object in memory before it raises).
    conversations: dict[int, dict[str, object]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.messages or self.conversations)

    def extend(self, other: _Writes) -> None:
        self.messages.extend(other.messages)
        for pk, values in other.conversations.items():
            self.conversations.setdefault(pk, {}).update(values)


class _Turn:
    def __init__(self) -> None:
        self.writes = _Writes()
        self.atomic = None  # the savepoint, opened by the turn's first statement
        self.hooks_at = len(connection.run_on_commit)


class _Batch:
    def __init__(self) -> None:
        self.writes = _Writes()
        self.turn: _Turn | None = None
        self.busy = False  # our own statements do not flush again

    def __call__(self, execute, sql, params, many, context):
        if not self.busy:
            self.before_statement()
        return execute(sql, params, many, context)

    def before_statement(self) -> None:
        turn = self.turn
        if not self.writes and (turn is None or (turn.atomic is not None and not turn.writes)):
            return
        self.busy = True
        try:
            _write(self.writes)
            if turn is not None:
                if turn.atomic is None:
                    turn.atomic = transaction.atomic()
                    turn.atomic.__enter__()
                _write(turn.writes)
        finally:
            self.busy = False


def _current() -> _Batch | None:
    return getattr(_local, "batch", None)


def active() -> bool:
    """Whether writes are deferred here (inside a processor batch on PostgreSQL)."""
    return _current() is not None


@contextmanager
def batch() -> Iterator[None]:
    """Defer the turns' writes until `flush` (or the next other statement). Enter it inside
    the batch's transaction.atomic(); on PostgreSQL only (elsewhere it does nothing)."""
    if connection.vendor != "postgresql" or _current() is not None:
        yield
        return
    state = _Batch()
    _local.batch = state
    try:
        with connection.execute_wrapper(state):
            yield
            flush()
    finally:
        _local.batch = None


@contextmanager
def turn() -> Iterator[None]:
    """One turn: its writes join the batch when it ends well; when it raises, they are
    dropped with the on-commit hooks it registered (and its savepoint, if a statement
    opened one, is rolled back), then the exception goes on."""
    state = _current()
    if state is None:
        with transaction.atomic():
            yield
        return
    this = _Turn()
    state.turn = this
    try:
        yield
    except BaseException as exc:
        state.turn = None
        if this.atomic is not None:
            this.atomic.__exit__(type(exc), exc, exc.__traceback__)
        del connection.run_on_commit[this.hooks_at :]
        raise
    state.turn = None
    if this.atomic is not None:
        state.busy = True
        try:
            _write(this.writes)  # written after the savepoint's last statement: inside it
        finally:
            state.busy = False
        this.atomic.__exit__(None, None, None)
    else:
        state.writes.extend(this.writes)


def _writes() -> _Writes | None:
    state = _current()
    if state is None:
        return None
    return state.turn.writes if state.turn is not None else state.writes


def messages_add(rows: list[Message]) -> bool:
    """Queue `rows` for the batch's INSERT; False when not deferring (the caller inserts).
    Their ids are set when they are written (before any later statement runs)."""
    writes = _writes()
    if writes is None:
        return False
    now = timezone.now()
    for row in rows:
        row.created_at = row.created_at or now
    writes.messages.extend(rows)
    return True


def conversation_changed(conversation: Conversation, columns: list[str]) -> bool:
    """Queue an UPDATE of `columns` (attnames) of `conversation` with their values now (and
    updated_at); False when not deferring (the caller saves)."""
    writes = _writes()
    if writes is None:
        return False
    conversation.updated_at = timezone.now()
    values = writes.conversations.setdefault(conversation.pk, {})
    for name in [*columns, "updated_at"]:
        values[name] = copy.deepcopy(getattr(conversation, name))
    return True


def flush() -> None:
    """Write what the batch's finished turns left (the processor calls it before it marks
    the events; any other statement does it too)."""
    state = _current()
    if state is None or state.busy:
        return
    state.busy = True
    try:
        _write(state.writes)
    finally:
        state.busy = False


# --- The statements ------------------------------------------------------------------------------


def _write(writes: _Writes) -> None:
    if writes.messages:
        _insert_messages(writes.messages)
        writes.messages = []
    if writes.conversations:
        _update_conversations(writes.conversations)
        writes.conversations = {}


# Rows per INSERT: 1,000 x 18 columns stays below PostgreSQL's 65,535 bound parameters.
INSERT_CHUNK = 1000


def _unnest_types(fields) -> list[str] | None:
    """The PostgreSQL array type of each column for `UNNEST(%s::type[], …)`, or None where
    a column cannot go that way (not PostgreSQL; a type Django's own bulk_create leaves to
    VALUES: django/db/backends/postgresql/compiler.py, SQLInsertCompiler.assemble_as_sql).

    Why: psycopg parses a statement's text for its placeholders and keeps the result only
    for statements under 4,096 characters and 50 parameters (psycopg/_queries.py,
    MAX_CACHED_STATEMENT_LENGTH), so one `VALUES (%s, …), (%s, …)` per batch size was
    parsed again on every batch, a seventh of the processor's time; with one array per
    column the text is the same for any number of rows."""
    if connection.vendor != "postgresql":
        return None
    types = []
    for f in fields:
        target = f.target_field if f.is_relation else f
        if hasattr(f, "get_placeholder") or target.get_internal_type() not in (
            connection.data_types
        ):
            return None
        types.append(f.db_type(connection).split("(")[0])  # varchar[], not varchar(32)[]
    return types


def _rows_source(fields, value_rows: list[list]) -> tuple[str, list]:
    """`SELECT * FROM UNNEST(…)` (see _unnest_types) or `VALUES (…), (…)`, with its
    parameters, for INSERT … <source>. Both give the rows in the order given, which
    RETURNING follows (as bulk_create relies on)."""
    types = _unnest_types(fields)
    if types is not None:
        columns = [list(column) for column in zip(*value_rows, strict=True)]
        unnest = ", ".join(f"%s::{t}[]" for t in types)
        return f"SELECT * FROM UNNEST({unnest})", columns
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return "VALUES " + ", ".join([row_sql] * len(value_rows)), [
        v for row in value_rows for v in row
    ]


_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]


def _insert_messages(rows: list[Message]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        _insert_chunk(rows[start : start + INSERT_CHUNK])


def _insert_chunk(rows: list[Message]) -> None:
    """One INSERT … ON CONFLICT DO NOTHING RETURNING for inbound and outbound rows. Only
    inbound rows can conflict (an event processed again: message_unique_provider_id);
    RETURNING gives the inserted rows in the VALUES order (as Django's bulk_create relies
    on), so the outbound ones get their ids by position and the inbound ones by their
    provider's id."""
    qn = connection.ops.quote_name
    table = Message._meta.db_table
    columns = ", ".join(qn(f.column) for f in _MESSAGE_FIELDS)
    source, params = _rows_source(
        _MESSAGE_FIELDS,
        [
            [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _MESSAGE_FIELDS]
            for row in rows
        ],
    )
    sql = (
        f"INSERT INTO {qn(table)} ({columns}) {source}"
        f" ON CONFLICT DO NOTHING RETURNING {qn('id')}, {qn('direction')},"
        f" {qn('provider_message_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    outbound = iter(r for r in rows if r.direction == Message.Direction.OUT)
    inbound: dict[str, list[Message]] = {}
    for r in rows:
        if r.direction != Message.Direction.OUT:
            inbound.setdefault(r.provider_message_id, []).append(r)
    for pk, direction, provider_id in returned:
        if direction == Message.Direction.OUT:
            row = next(outbound, None)
        else:
            row = next((r for r in inbound.get(provider_id, ()) if r.pk is None), None)
        if row is not None:
            row.pk = pk
            row._state.adding = False
            row._state.db = connection.alias


def _update_conversations(changes: dict[int, dict[str, object]]) -> None:
    """One UPDATE … FROM UNNEST(…) (VALUES off PostgreSQL) for every changed conversation:
    per column a flag and the value, so a column a turn did not change keeps the row's own
    value."""
    meta = Conversation._meta
    qn = connection.ops.quote_name
    names = sorted({name for values in changes.values() for name in values})
    fields = [next(f for f in meta.concrete_fields if f.attname == n) for n in names]
    value_rows = []
    for pk, values in changes.items():
        row = [pk]
        for f in fields:
            row += [f.attname in values, f.get_db_prep_save(values.get(f.attname), connection)]
        value_rows.append(row)
    aliases = ["id"]
    for i, _f in enumerate(fields):
        aliases += [f"s{i}", f"v{i}"]
    sets = ", ".join(
        f"{qn(f.column)} = CASE WHEN v.s{i} THEN v.v{i} ELSE c.{qn(f.column)} END"
        for i, f in enumerate(fields)
    )
    types = _unnest_types(fields)
    if types is not None:  # one array per column: the same text for any number of rows
        arrays = ", ".join(["%s::bigint[]", *(f"%s::boolean[], %s::{t}[]" for t in types)])
        source = f"UNNEST({arrays})"
        params = [list(column) for column in zip(*value_rows, strict=True)]
    else:
        cells = ", ".join(
            ["%s::bigint", *(f"%s::boolean, %s::{f.db_type(connection)}" for f in fields)]
        )
        source = "(VALUES " + ", ".join([f"({cells})"] * len(value_rows)) + ")"
        params = [v for row in value_rows for v in row]
    sql = (
        f"UPDATE {qn(meta.db_table)} AS c SET {sets}"
        f" FROM {source} AS v({', '.join(aliases)})"
        f" WHERE c.{qn(meta.pk.column)} = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- New rows in one statement -------------------------------------------------------------------


def insert_new(objs: list, *, key: tuple[str, ...]) -> list:
    """INSERT unsaved model instances (of one model) in one statement, skipping any that a
    unique constraint refuses (ON CONFLICT DO NOTHING: a row another consumer or an earlier
    message created); return the inserted ones, their ids set. `key` names the attnames that
    tell the returned rows apart (a unique constraint's columns)."""
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for obj in objs:
        for f in fields:
            f.pre_save(obj, add=True)  # auto_now(_add) timestamps
    key_columns = [next(f.column for f in fields if f.attname == name) for name in key]
    source, params = _rows_source(
        fields,
        [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] for obj in objs],
    )
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)})"
        f" {source} ON CONFLICT DO NOTHING"
        f" RETURNING {qn(meta.pk.column)}, {', '.join(qn(c) for c in key_columns)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchall()
    by_key = {tuple(getattr(obj, name) for name in key): obj for obj in objs}
    inserted = []
    for pk, *values in returned:
        obj = by_key.get(tuple(values))
        if obj is not None:
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
            inserted.append(obj)
    return inserted
