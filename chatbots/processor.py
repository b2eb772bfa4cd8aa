"""The processor: long-running consumers that drain pending inbound events in batches.

The webhook stores each event as a pending InboundEvent row (chatbots.inbound) and wakes
the processors; PostgreSQL stays the durable queue, Redis only rings the bell. A processor
(`manage.py run_processor`, one or many, on one or many machines) then repeats:

    BEGIN
      statuses, account news, preferences: up to N pending rows, FOR UPDATE SKIP LOCKED
      customers' messages: up to N contacts with pending messages, the one whose newest
        message is oldest first, each with the engine's per-contact lock taken without
        waiting (chatbots.inbound.lock_contacts_next; a contact another consumer holds is
        skipped), in one statement; their pending messages in one query, their customers
        and conversations in one, new customers and their conversations in one INSERT …
        ON CONFLICT DO NOTHING each; then each contact's turns in order
        (chatbots.engine.turn_take), at most N
      the turns' Message rows in one INSERT and their conversations' changes in one
        UPDATE … FROM (VALUES …) (chatbots.deferred), the events done/failed in one
        UPDATE, the usage counted in one Redis pipeline
    COMMIT      (replies are queued outbound rows; one nudge wakes the senders)

Order: a contact's messages are only ever answered by whoever holds its lock, oldest first,
so two consumers never answer one customer out of order. A burst still within its window
(chatbots.bursts) holds back the contact's later messages until it is answered. A
conversation a person is handling waits for no window: the attendant sees each message as
soon as it is stored.

Failures: each turn is isolated (chatbots.deferred.turn: its writes wait in memory, and
the first statement it runs itself opens its savepoint, the engine's handler savepoint
widened to the whole turn). A handler that raises rolls its turn back, and the turn is
taken again with the apology instead, its error on its events, as always. Anything else
that raises in a turn (a customer that cannot be stored), or a payload that does not parse
(found before any turn runs), fails that message alone with its error, and the customer's
next messages go on (a new customer the batch inserted for that failed first turn is
deleted again). A status or account event that raises rolls the batch back before any turn ran; it is marked
failed and the batch runs again. A consumer killed mid-batch commits nothing: the events are
still pending and the next batch (its own after a restart, or another consumer's) answers
them once. A lost database connection is nobody's fault: the batch is simply tried again.

Waking: `dispatch` (chatbots.inbound's dispatcher) PUBLISHes on WAKE_CHANNEL after the
webhook's INSERT commits; consumers SUBSCRIBE and, when nothing rings, look anyway every
PROCESSOR_POLL_SECONDS (a lost wake-up, the embedded mode without Redis, a burst coming
due). The inbound sweeper re-wakes rows left pending for a minute. In eager mode
(CELERY_TASK_ALWAYS_EAGER: the tests) `dispatch` drains at once, in the caller, the way
the eager task did.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import (
    DatabaseError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from billing import metering
from chatbots import batch_loads, bursts, consumer_metrics, deferred, engine, inbound
from chatbots.models import Conversation, InboundEvent
from chatbots.outbox import queue
from config import heartbeat, memo, outage

logger = logging.getLogger(__name__)

WAKE_CHANNEL = "chatbots:processor:wake"
State = InboundEvent.State
Kind = InboundEvent.Kind
# Conversations whose messages an attendant reads as they come: no burst window.
_WITH_A_PERSON = (Conversation.Status.HUMAN, Conversation.Status.WAITING)
# The connection failing (PostgreSQL or Redis restarting, a network cut) is no message's
# fault: the batch rolls back and runs again once it is back (config.outage).
_LOST = outage.TRANSIENT


@dataclass
class Drained:
    """What one batch did."""

    turns: int = 0  # turns answered (a burst is one)
    applied: int = 0  # statuses, account events, preferences
    poisoned: int = 0  # events that could not be answered (not the handler's fault), failed
    wait: float | None = None  # seconds until this batch's earliest waiting burst is due
    # The batch was full (or had to leave work for later): look again before sleeping. A
    # batch that was not took everything ready; what was stored meanwhile sent a wake-up.
    more: bool = False

    @property
    def worked(self) -> bool:
        return bool(self.turns or self.applied or self.poisoned)


class _Poison(Exception):
    def __init__(self, event_ids: list[int], error: str) -> None:
        super().__init__(error)
        self.event_ids, self.error = event_ids, error


# --- One batch ---------------------------------------------------------------------------------


def drain(*, batch: int | None = None) -> Drained:
    """Process one batch of pending events in one transaction (see the module docstring)."""
    size = batch or settings.PROCESSOR_BATCH
    poisoned = 0
    while True:
        try:
            with memo.scope(), transaction.atomic(), metering.batched(), deferred.batch():
                result = _drain(size)
                # After every turn's hook: one nudge of the senders for the whole batch.
                transaction.on_commit(queue.sends_flush)
            result.poisoned += poisoned
            return result
        except _Poison as poison:
            logger.error(
                "inbound event failed outside its handler; the rest of its batch goes on",
                exc_info=poison.__cause__,
                extra={"event_ids": poison.event_ids},
            )
            _mark_failed(poison.event_ids, poison.error)
            poisoned += len(poison.event_ids)


_local = threading.local()


def drain_all(*, batch: int | None = None, max_batches: int = 1000) -> int:
    """Drain until a batch finds nothing ready; return the turns answered. Called again
    from inside a drain (eager mode: a hook that stores an event), it does nothing: the
    outer loop drains again after its batch."""
    if getattr(_local, "draining", False):
        return 0
    _local.draining = True
    turns = 0
    try:
        for _ in range(max_batches):
            result = drain(batch=batch)
            turns += result.turns
            if not result.worked:
                break
    finally:
        _local.draining = False
    return turns


def _drain(size: int) -> Drained:
    result = Drained()
    result.applied = _apply_others(size)
    contacts = inbound.lock_contacts_next(size)
    pending, unreadable, truncated = batch_loads.pending_of(contacts, size)
    result.more = truncated or result.applied >= size or len(contacts) >= size
    for event, error in unreadable:
        _poisoned([event.pk], error, result)
    conversations = batch_loads.conversations_of(pending)
    memo.put(memo.BATCH_CONVERSATIONS, frozenset(c.pk for c in conversations.values()))
    now = timezone.now()
    done: list[int] = []
    failed: dict[str, list[int]] = defaultdict(list)
    for key, events in pending.items():
        while events and result.turns < size:
            chatbot = events[0].chatbot
            conversation = conversations.get(key)
            window = (
                bursts.NO_WINDOW
                if conversation is not None and conversation.status in _WITH_A_PERSON
                else bursts.debounce_window(chatbot)
            )
            burst = bursts.burst_take(events[: bursts.MAX_PARTS + 1], window=window, now=now)
            if burst.wait > 0:
                result.wait = burst.wait if result.wait is None else min(result.wait, burst.wait)
                inbound.enqueue_later(event_id=events[0].pk, delay=burst.wait)
                break
            ids = [event.pk for event in burst.events]
            events = events[len(ids) :]
            result.turns += 1
            turn, error = _turn(chatbot, burst, conversation)
            if turn is None:  # it raised outside its handler: rolled back, failed alone
                batch_loads.undo_newcomer(conversations.pop(key, None))
                _poisoned(ids, error, result)
                continue
            turn.conversation._newcomer = False  # kept: it has a turn now
            conversations[key] = turn.conversation
            (failed[error] if error else done).extend(ids)
    deferred.flush()
    if done:
        engine.events_finish(done)
    for error, ids in failed.items():
        engine.events_finish(ids, error)
    result.more = result.more or result.turns >= size or bool(result.poisoned)
    return result


def _turn(chatbot, burst: bursts.Burst, conversation: Conversation | None):
    """One isolated turn (chatbots.deferred.turn: the engine's handler savepoint, widened to
    the whole turn, and opened only if the turn runs a statement): (turn, handler error), or
    (None, error) when it raised outside the handler."""
    try:
        with deferred.turn():
            return engine.turn_take(chatbot, burst, conversation=conversation, isolated=False)
    except engine.HandlerFailed as failure:
        # Rolled back to before the turn; the objects in memory may hold the handler's
        # changes: read them again, then the same turn answers with the apology.
        if conversation is not None:
            conversation.refresh_from_db()
            conversation.cliente.refresh_from_db()
        handler_error = str(failure)
    except _LOST:
        raise  # the database went away: nothing is committed, the batch runs again
    except Exception as exc:
        logger.exception("inbound message failed outside its handler")
        return None, f"{type(exc).__name__}: {exc}"
    try:
        with deferred.turn():
            return engine.turn_take(
                chatbot, burst, conversation=conversation, isolated=False, failed=handler_error
            )
    except _LOST:
        raise
    except Exception as exc:
        logger.exception("inbound message failed outside its handler")
        return None, f"{type(exc).__name__}: {exc}"


def _poisoned(event_ids: list[int], error: str, result: Drained) -> None:
    """A message that cannot be answered (a payload that does not parse, a turn that raised
    outside its handler) fails alone with its error; its customer's next messages go on."""
    _mark_failed(event_ids, error)
    result.poisoned += len(event_ids)


def _apply_others(size: int) -> int:
    """Statuses, account events and preferences: no order to keep (a status only moves a
    message forward: chatbots.inbound.ALLOWED_FROM), so rows are locked one by one."""
    ids = batch_loads.others_ready(size)
    if not ids:
        return 0
    rows = InboundEvent.objects.select_related("chatbot__tenant").defer("raw")
    applied = 0
    for event in rows.filter(pk__in=ids).order_by("id"):
        try:
            engine.event_apply(event)
        except _LOST:
            raise
        except Exception as exc:
            raise _Poison([event.pk], f"{type(exc).__name__}: {exc}") from exc
        applied += 1
    return applied


def _mark_failed(event_ids: list[int], error: str) -> None:
    InboundEvent.objects.filter(pk__in=event_ids, state=State.PENDING).update(
        state=State.FAILED,
        attempts=F("attempts") + 1,
        processed_at=timezone.now(),
        last_error=error[:2000],
    )


# --- Waking ------------------------------------------------------------------------------------

_due_lock = threading.Lock()
_due: float | None = None  # time.monotonic() of the earliest burst this process waits for


def dispatch(event_id: int, delay: float = 0.0) -> None:
    """chatbots.inbound's dispatcher: a stored event is ready (now, or in `delay` seconds,
    when a burst's window ends). The event id is not needed: consumers take what is
    pending, in order."""
    if _eager():
        if delay <= 0:
            drain_all()
        # Eager mode cannot wait for a burst: a test drives the clock (tests/delayed.py).
        return
    if delay > 0:
        _remember_due(delay)  # the consumer that saw the burst looks again then
        return
    wake()


def wake() -> None:
    """Tell the consumers there is work. Never raises: they poll anyway."""
    client = _redis()
    if client is None:
        return
    try:
        client.publish(WAKE_CHANNEL, b"1")
    except Exception:
        logger.warning("could not wake the processors; they will poll", exc_info=True)


def _eager() -> bool:
    from config.celery import app

    return bool(app.conf.task_always_eager)


@lru_cache(maxsize=1)
def _client_for(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def _redis():
    url = getattr(settings, "REDIS_URL", "")
    return _client_for(url) if url else None


def _remember_due(delay: float) -> None:
    global _due
    at = time.monotonic() + delay
    with _due_lock:
        if _due is None or at < _due:
            _due = at


def _take_due_timeout(default: float) -> float:
    """Seconds to sleep: `default`, or less when a burst comes due sooner."""
    global _due
    with _due_lock:
        if _due is None:
            return default
        left = _due - time.monotonic()
        if left <= default:
            _due = None
            return max(left, 0.0)
        return default


# --- The long-running consumer ---------------------------------------------------------------


class Consumer:
    """`manage.py run_processor`: drain, then sleep until woken or PROCESSOR_POLL_SECONDS."""

    def __init__(self, *, batch: int | None = None, poll: float | None = None) -> None:
        self.batch = batch or settings.PROCESSOR_BATCH
        self.poll = poll if poll is not None else settings.PROCESSOR_POLL_SECONDS
        self.stopping = threading.Event()
        self._pubsub = None
        self._beat_at = 0.0
        self._backoff = outage.Backoff("processor")

    def stop(self, *_args) -> None:
        self.stopping.set()

    def install_signals(self) -> None:
        # SIGTERM (supervisor, Docker, Render) and Ctrl-C end after the current batch.
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> None:
        logger.info("processor started", extra={"batch": self.batch, "poll": self.poll})
        self._subscribe()
        ready = True  # look at once on start
        while not self.stopping.is_set():
            self._heartbeat()
            try:
                if ready:
                    result = self._drain_once()
                    if result is not None and result.more:
                        continue  # a full batch: more is ready, drain again before sleeping
            except (DatabaseError, *outage.TRANSIENT) as exc:
                self._outage(exc)
                ready = True  # look again as soon as it is back
                continue
            self._backoff.ok()
            # Woken (an event stored since the batch began, a burst come due): drain. A
            # poll that timed out asks the database first (a lost wake-up, no Redis).
            ready = self._sleep(_take_due_timeout(self.poll)) or self._anything_pending()
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # closing a broken connection
                pass

    def _outage(self, exc: BaseException) -> None:
        """PostgreSQL or Redis is unreachable: nothing of the batch was committed. Close the
        connection and wait (capped exponential, logged once per outage), then try again."""
        try:
            connection.close()
        except Exception:  # closing a broken connection
            pass
        consumer_metrics.batch_failed("processor", "database")
        self._heartbeat()  # alive, and /healthz names the database or broker that is down
        self.stopping.wait(self._backoff.failed(exc))

    def _anything_pending(self) -> bool:
        """One indexed statement, outside a transaction: an idle consumer's poll takes no
        lock (on SQLite a batch's transaction takes the database's write lock)."""
        close_old_connections()
        return InboundEvent.objects.filter(state=State.PENDING).exists()

    def _drain_once(self) -> Drained | None:
        close_old_connections()  # CONN_MAX_AGE, and a connection PostgreSQL dropped
        result = drain(batch=self.batch)
        self._backoff.ok()
        consumer_metrics.batch_done(
            "processor", result.turns + result.applied, poisoned=result.poisoned
        )
        return result

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._beat_at >= heartbeat.HEARTBEAT_INTERVAL:
            heartbeat.beat(heartbeat.PROCESSOR_KEY)
            self._beat_at = now

    def _subscribe(self) -> None:
        client = _redis()
        if client is None:
            return
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(WAKE_CHANNEL)
            self._pubsub = pubsub
        except Exception:
            logger.warning("processor cannot subscribe to wake-ups; polling", exc_info=True)
            self._pubsub = None

    def _sleep(self, timeout: float) -> bool:
        """Until a wake-up or `timeout`; whether a wake-up came (or the timeout was none)."""
        if timeout <= 0:
            return True
        if self._pubsub is None:
            self.stopping.wait(timeout)
            self._subscribe()  # Redis back (or configured) for the next sleep
            return False
        try:
            if self._pubsub.get_message(timeout=timeout) is not None:
                while self._pubsub.get_message(timeout=0) is not None:
                    pass  # one drain answers every wake-up that came meanwhile
                return True
        except Exception:  # Redis restarted: poll until it is back
            logger.warning("processor lost its wake-up connection; polling", exc_info=True)
            self._pubsub = None
            self.stopping.wait(timeout)
        return False
