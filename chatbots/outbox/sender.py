"""The sender: a long-running consumer that drains the outbox in claimed batches
(`python manage.py run_sender`), instead of one Celery task per send.

One round (`Sender.run_once`):

1. **Claim** (one statement, chatbots.outbox.claims): the oldest unsent row of up to
   SENDER_BATCH conversations, locked so that several senders never claim the same one,
   plus the rows queued after it, all moved to `sending` with the claim's lease deadline.
2. **Load** the conversations with their bot and customer (one statement).
3. **Send**: each conversation's rows, in order, in one thread of a pool of SENDER_THREADS
   (conversations side by side, never two rows of one conversation at once), each row
   through chatbots.outbox.sending.attempt: every SEND gate, the payload, template or
   24-hour window, recipient, rate governor, provider, with the task's error mapping.
   A row that is not final (a retry with backoff, a rate-limit wait) stops its
   conversation: the rows after it go back to `queued` untouched, and wait for it.
4. **Record** every outcome in one statement (chatbots.outbox.claims, guarded by status =
   'sending', so a row the sweeper took back is left alone), then the counters, the status
   watchers (chatbots.outbox.watch) and the on-sent hooks (metering), as the task does.
5. Pop the read receipts that rode along (chatbots.outbox.wake) and hand them to a pool of
   their own: the next round does not wait for them.

Per-customer order holds across any number of senders and the Celery task: a row is
claimed only while every older row of its conversation is final.

A sender killed between its claim and its record: its journal (chatbots.outbox.journal)
tells another sender within seconds which rows the provider answered (sent), which were in
flight (`send_interrupted`) and which never started (`queued`); without a journal, the
sweeper's lease rule (sending.sweep). SIGTERM finishes the round first.

PostgreSQL is the queue; Redis only nudges (chatbots.outbox.wake): without a nudge the
sender looks again every SENDER_POLL_SECONDS. The embedded mode (SQLite) runs one sender:
there the claim has no row locks (SQLite writes one statement at a time) and the outcomes
are written one row at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone

from chatbots import consumer_metrics
from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import gates, journal, pace, sending, wake, window
from chatbots.outbox.claims import Result, claim, record
from chatbots.outbox.rounds import Round
from chatbots.outbox.sending import INTERNAL_ERROR, MAX_RETRIES, Outcome
from chatbots.providers.registry import UnknownProvider, get_provider
from config import heartbeat, outage

logger = logging.getLogger(__name__)

# How often a sender runs the outbox sweeper itself (chatbots.outbox.sending.sweep: stuck
# claims fail as interrupted, forgotten rows are nudged), so that it needs no Celery beat.
SWEEP_SECONDS = 60.0
# How long a sender keeps trying to write the outcomes of sends it made while PostgreSQL is
# away; a restart takes seconds, the claim's lease (sending.SENDING_LEASE) five minutes.
RECORD_WAIT = 120.0
# Read receipts pending per receipt thread before a round waits for one to finish.
RECEIPTS_IN_FLIGHT = 4


def _released() -> Outcome:
    """A row behind one that is not final: back to the queue untouched, to wait for it."""
    return Outcome(
        Message.Status.QUEUED, {"status": Message.Status.QUEUED, "next_attempt_at": None}, False
    )


def _internal_retry(row: Message, exc: Exception) -> Outcome:
    """A gate or the rate governor raised before the provider was called: nothing went, so
    the row is tried again with backoff, and fails once the retry budget is spent."""
    detail = f"{type(exc).__name__}: {exc}"
    if outage.is_transient(exc):
        # PostgreSQL or Redis away (the rate governor, a gate): no one's fault, so no try is
        # spent; the row waits a few seconds and goes again, however long the outage lasts.
        return _later_untried(detail)
    attempts = row.attempts + 1
    if attempts > MAX_RETRIES:
        return sending.failed_outcome(INTERNAL_ERROR, detail, attempts=attempts)
    countdown = sending.retry_countdown(attempts)
    fields = {
        "status": Message.Status.QUEUED,
        "attempts": attempts,
        "next_attempt_at": timezone.now() + timedelta(seconds=countdown),
        "error_code": INTERNAL_ERROR,
        "error_detail": detail,
    }
    return Outcome(
        Message.Status.QUEUED,
        fields,
        False,
        code=INTERNAL_ERROR,
        detail=detail,
        countdown=countdown,
    )


def _later_untried(detail: str) -> Outcome:
    countdown = sending.retry_countdown(2)
    fields = {
        "status": Message.Status.QUEUED,
        "next_attempt_at": timezone.now() + timedelta(seconds=countdown),
        "error_code": sending.INFRASTRUCTURE,
        "error_detail": detail,
    }
    return Outcome(
        Message.Status.QUEUED,
        fields,
        False,
        code=sending.INFRASTRUCTURE,
        detail=detail,
        countdown=countdown,
    )


def send_run(
    conversation: Conversation | None,
    rows: list[Message],
    log: journal.Journal | None = None,
    prepared: Round | None = None,
) -> list[Result]:
    """Send one conversation's claimed rows in order (runs in a pool thread), each send
    journaled in `log`, with what the round `prepared` (chatbots.outbox.rounds)."""
    if conversation is None:  # deleted since the claim: its rows went with it
        return []
    try:
        provider = get_provider(conversation.chatbot.provider)
    except UnknownProvider as exc:
        return [
            Result(row, sending.failed_outcome(sending.UNKNOWN_PROVIDER, str(exc)), conversation)
            for row in rows
        ]
    results: list[Result] = []
    stopped = False
    for row in rows:
        if stopped:
            results.append(Result(row, _released(), conversation))
            continue
        try:
            journaled = log.provider(provider, row.pk) if log is not None else provider
            outcome = sending.attempt(conversation, journaled, row, prepared)
        except Exception as exc:
            logger.exception("outbound send could not be tried", extra={"message_id": row.pk})
            if isinstance(exc, (InterfaceError, OperationalError)):
                connection.close()  # this thread's connection; a fresh one next time
            outcome = _internal_retry(row, exc)
        results.append(Result(row, outcome, conversation))
        stopped = not outcome.final
    return results


def report(results: list[Result], moved: set[int]) -> None:
    """Counters, watchers and on-sent hooks, as the task reports one row (sending._send_one)."""
    accepted = []
    for result in results:
        if result.row.pk in moved or result.outcome.status != Message.Status.FAILED:
            sending.reported(result.row, result.outcome, result.conversation, hooks=False)
            if result.outcome.status == Message.Status.SENT and result.conversation is not None:
                accepted.append(sending.outgoing_of(result.conversation))
        if result.row.pk not in moved:
            logger.warning(
                "outbound row was no longer ours to move",
                extra={"message_id": result.row.pk, "new_status": result.outcome.status},
            )
    gates.sent_many(accepted)  # billing counts the batch per tenant, not per message


class Sender:
    """One sender process's loop. `threads` <= 1 sends in the calling thread."""

    def __init__(
        self,
        *,
        batch: int | None = None,
        threads: int | None = None,
        poll: float | None = None,
    ) -> None:
        self.batch = max(1, batch or settings.SENDER_BATCH)
        self.threads = max(1, threads or settings.SENDER_THREADS)
        self.poll = max(0.01, poll if poll is not None else settings.SENDER_POLL_SECONDS)
        self.stopping = threading.Event()
        self._pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="sender")
            if self.threads > 1
            else None
        )
        # Read receipts go out on their own threads, not awaited: a receipt is one more
        # call to a provider that may take 150 ms or more, and the next round's replies
        # must not wait for it (RECEIPTS_IN_FLIGHT bounds what is pending).
        self._receipt_pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="receipts")
            if self.threads > 1
            else None
        )
        self._receipts_pending: set = set()
        self.pace = pace.Pace(self.threads)
        self._pubsub = None
        self._bots: dict[int, Chatbot] = {}  # this round's bots (for the receipts)
        self._last_beat = 0.0
        self._last_sweep = time.monotonic()
        self._backoff = outage.Backoff("sender")
        self._later_receipts: list[tuple[float, int, str, int]] = []  # (due, bot, id, try)
        self._later_lock = threading.Lock()
        self.journal = journal.Journal()
        self.recovery = journal.Recovery(self.journal.client, own_id=self.journal.sender_id)
        self._last_recovery = 0.0

    # --- one round -----------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim, send, record one batch, then the read receipts; return the rows claimed."""
        lease = journal.lease_of(timezone.now())
        self.journal.begin(lease)
        rows = claim(batch=self.batch, lease=lease)
        self._bots = {}
        # Alive while it sends, also in a single round (`run_sender --once`, the tests).
        beating = self.journal.start_beating() if rows else False
        try:
            self._send_claimed(rows)
        finally:
            if beating:
                self.journal.stop_beating()
        self.send_receipts()
        return len(rows)

    def _send_claimed(self, rows: list[Message]) -> None:
        if rows:
            by_conversation: dict[int, list[Message]] = defaultdict(list)
            for row in rows:
                by_conversation[row.conversation_id].append(row)
            conversations = Conversation.objects.select_related("chatbot", "cliente").in_bulk(
                list(by_conversation)
            )
            runs = [(conversations.get(cid), group) for cid, group in by_conversation.items()]
            # The receipts that rode along are for these bots, mostly: no query for them.
            self._bots = {c.chatbot_id: c.chatbot for c in conversations.values()}
            window.approved_remember(c.chatbot for c in conversations.values())
            results = self._send_runs(runs)
            report(results, self._record(results))

    def _send_runs(self, runs: list[tuple[Conversation | None, list[Message]]]) -> list[Result]:
        """The runs on as many pool threads as the pace asks (chatbots.outbox.pace), each
        thread taking its share of conversations one after the other."""
        workers = 1 if self._pool is None else self.pace.workers(len(runs))
        prepared = Round.prepare(runs)

        def send_share(
            share: list[tuple[Conversation | None, list[Message]]],
        ) -> tuple[list[Result], float]:
            out: list[Result] = []
            began = time.perf_counter()
            try:
                for conversation, group in share:
                    out += send_run(conversation, group, self.journal, prepared)
            finally:
                self.journal.flush()
            return out, time.perf_counter() - began

        wall, cpu = time.perf_counter(), time.process_time()
        try:
            if workers == 1:
                shares = [send_share(runs)]
            else:
                shares = list(
                    self._pool.map(send_share, [runs[i::workers] for i in range(workers)])
                )
        finally:
            if prepared is not None:
                prepared.close()
        results = [r for out, _waited in shares for r in out]
        self.pace.observe(
            workers=workers,
            calls=len(results),
            waited=sum(waited for _out, waited in shares),
            wall=time.perf_counter() - wall,
            cpu=time.process_time() - cpu,
        )
        return results

    def _record(self, results: list[Result]) -> set[int]:
        """`record`, tried again on a fresh connection while the database is away (a
        restart): the sends happened, so their outcomes are worth the wait, up to RECORD_WAIT
        (well inside the claim's lease, sending.SENDING_LEASE). If it still fails, the rows
        stay `sending` and the sweeper applies the unknown-outcome rule to them."""
        backoff = outage.Backoff("sender (recording outcomes)")
        deadline = time.monotonic() + RECORD_WAIT
        while True:
            try:
                moved = record(results)
            except (InterfaceError, OperationalError) as exc:
                connection.close()
                wait = backoff.failed(exc)
                if time.monotonic() + wait > deadline:
                    raise
                time.sleep(wait)
                continue
            backoff.ok()
            return moved

    def send_receipts(self) -> int:
        """Mark read what rode along with the turns (chatbots.outbox.wake): a courtesy, so a
        failure is logged and dropped, as the task does."""
        client = wake.client()
        if client is None:
            return 0
        try:
            popped = client.lpop(wake.names().receipts, self.batch * 4) or []
        except redis.RedisError:
            logger.warning("could not read the pending read receipts", exc_info=True)
            return 0
        receipts = [(*parsed, 1) for raw in popped if (parsed := wake.parse_receipt(raw))]
        receipts += self._due_receipts()
        if not receipts:
            return 0
        bots = dict(self._bots)
        missing = {chatbot_id for chatbot_id, _ext, _n in receipts} - set(bots)
        if missing:
            bots.update(Chatbot.objects.in_bulk(missing))
        work = [(bots[cid], ext, n) for cid, ext, n in receipts if cid in bots]

        def mark(item: tuple[Chatbot, str, int]) -> None:
            chatbot, external_id, tries = item
            try:
                wait = sending.read_try(chatbot, external_id, tries=tries)
            finally:
                if self._receipt_pool is not None and connection.connection is not None:
                    connection.close()  # a provider that read the database: not kept open
            if wait is not None and wait >= 0:  # a 429/5xx: again in a later round
                with self._later_lock:
                    self._later_receipts.append(
                        (time.monotonic() + wait, chatbot.pk, external_id, tries + 1)
                    )

        if self._receipt_pool is None:
            for item in work:
                mark(item)
            return len(work)
        self._receipts_pending = {f for f in self._receipts_pending if not f.done()}
        if len(self._receipts_pending) > self.threads * RECEIPTS_IN_FLIGHT:
            futures.wait(
                self._receipts_pending, return_when=futures.FIRST_COMPLETED
            )  # the provider is slow
        # A receipt waits on the same provider as a send: as many threads as the sends use.
        workers = self.pace.workers(len(work))

        def mark_share(share: list[tuple[Chatbot, str, int]]) -> None:
            for item in share:
                mark(item)

        self._receipts_pending.update(
            self._receipt_pool.submit(mark_share, work[i::workers]) for i in range(workers)
        )
        return len(work)

    def _due_receipts(self) -> list[tuple[int, str, int]]:
        """Receipts whose retry is due (sending.read_try said when): rounds go on meanwhile,
        so a receipt that met a 429 never holds a reply back."""
        now = time.monotonic()
        with self._later_lock:
            due = [r for r in self._later_receipts if r[0] <= now]
            self._later_receipts = [r for r in self._later_receipts if r[0] > now]
        return [(cid, ext, tries) for _at, cid, ext, tries in due]

    # --- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        """Rounds until `stopping` is set; sleeps (woken by a nudge) when nothing is due."""
        logger.info(
            "sender started",
            extra={"batch": self.batch, "threads": self.threads, "poll": self.poll},
        )
        self.journal.start_beating()
        try:
            while not self.stopping.is_set():
                self.beat()
                self.sweep()
                self.recover()
                try:
                    claimed = self.run_once()
                except (DatabaseError, *outage.TRANSIENT) as exc:
                    # PostgreSQL or Redis restarting: reconnect, back off, go on.
                    consumer_metrics.batch_failed("sender", "database")
                    connection.close()
                    self.beat()
                    self.stopping.wait(self._backoff.failed(exc))
                    continue
                except Exception:
                    # A bug in a hook or a watcher: the round's outcomes are written or the
                    # rows stay claimed for the sweeper; the next round goes on.
                    logger.exception("sender round failed")
                    consumer_metrics.batch_failed("sender", "internal")
                    self.stopping.wait(self.poll)
                    continue
                consumer_metrics.batch_done("sender", claimed)
                self._backoff.ok()
                if claimed < self.batch:
                    self.wait()
        finally:
            self.close()
            logger.info("sender stopped")

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= heartbeat.HEARTBEAT_INTERVAL:
            heartbeat.beat(heartbeat.SENDER_KEY)
            self._last_beat = now

    def sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = now
        try:
            sending.sweep()
        except Exception:
            logger.warning("sender could not sweep the outbox", exc_info=True)
            connection.close()

    def recover(self) -> None:
        """Take over the claims of senders known dead (chatbots.outbox.journal)."""
        now = time.monotonic()
        if now - self._last_recovery < journal.BEAT_SECONDS:
            return
        self._last_recovery = now
        try:
            self.recovery.run(now=now)
        except Exception:
            logger.warning("sender could not recover a dead sender's claim", exc_info=True)
            connection.close()

    def wait(self) -> None:
        """Until a nudge or `poll` seconds (less when a read receipt's retry comes due);
        without Redis, just the poll."""
        timeout = self.poll
        with self._later_lock:
            if self._later_receipts:
                soonest = min(r[0] for r in self._later_receipts) - time.monotonic()
                timeout = max(0.01, min(timeout, soonest))
        pubsub = self._subscription()
        if pubsub is None:
            self.stopping.wait(timeout)
            return
        try:
            if pubsub.get_message(timeout=timeout) is not None:
                while pubsub.get_message(timeout=0) is not None:
                    pass  # one round serves every nudge that came meanwhile
        except redis.RedisError:
            logger.warning("sender lost its Redis subscription; polling", exc_info=True)
            self._drop_subscription()
            self.stopping.wait(self.poll)

    def _subscription(self):
        if self._pubsub is None:
            client = wake.client()
            if client is None:
                return None
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(wake.names().channel)
            except redis.RedisError:
                logger.warning("sender cannot subscribe to its nudges; polling", exc_info=True)
                return None
            self._pubsub = pubsub
        return self._pubsub

    def _drop_subscription(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except redis.RedisError:
                pass
            self._pubsub = None

    def close(self) -> None:
        self._drop_subscription()
        self.journal.close()
        if self._receipt_pool is not None:  # its threads keep no database connection
            self._receipt_pool.shutdown(wait=True)
            self._receipt_pool = None
        if self._pool is not None:
            # Each pool thread closes its own database connection (Django's connections
            # belong to their thread): one job per thread, held at a barrier so that no
            # thread takes two.
            barrier = threading.Barrier(self.threads)

            def close_own_connection() -> None:
                try:
                    barrier.wait(timeout=10)
                except threading.BrokenBarrierError:
                    pass
                connection.close()

            for _job in range(self.threads):
                self._pool.submit(close_own_connection)
            self._pool.shutdown(wait=True)
            self._pool = None
