"""The sender's journal: which claimed rows it started sending and which the provider
answered, kept in Redis so that it outlives a SIGKILL of the sender, and the recovery of a
dead sender's claim from it (chatbots.outbox.sender runs both).

A claim (sender.claim) moves rows to `sending` with a lease deadline in next_attempt_at
that is unique to that claim. Before claiming, the sender writes that deadline into its
journal (a Redis hash, one pipelined round trip); while sending, one HSET per row just
before the HTTP call ("s") and one after the provider's answer ("a:<wamid>"), the answer
riding with the thread's next "s" (or its end of the round) in one round trip. Nothing is
removed after the outcomes are written: the next claim resets the hash, and the recovery
only ever touches rows still `sending` under the journal's own deadline.

Each sender also keeps a key alive (SET with a TTL of ALIVE_TTL seconds, renewed every
BEAT_SECONDS by a thread of its own, so a sender busy with slow HTTP calls stays alive).
Another sender that sees the key missing twice, CONFIRM_SECONDS apart, takes the claim
over (a lock per dead sender, so only one does), in one transaction:

* answered: recorded `sent` with its wamid, counted and metered as a send;
* started, no answer: `send_interrupted`, the rule for a send whose outcome is unknown
  (sending.sweep), for at most the HTTP calls that were in flight (SENDER_THREADS);
* never started: back to `queued`, untouched, so it goes once, in its conversation's order.

If Redis is away, a round goes without a journal, and its rows fall back to the lease
(sending.SENDING_LEASE, then sweep). A row whose "started" mark cannot be written is not
sent in that round (a transient error, retried), so the journal never calls a sent row
"never started".

Redis commands: HSET https://redis.io/docs/latest/commands/hset/, SET with EX and NX
https://redis.io/docs/latest/commands/set/.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from datetime import datetime, timedelta

import redis
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from chatbots.models import Conversation, Message
from chatbots.outbox import sending, wake

logger = logging.getLogger(__name__)

# A sender renews its alive key every BEAT_SECONDS, which lives ALIVE_TTL seconds; one whose
# key is still missing CONFIRM_SECONDS after it was first seen missing (two renewals it
# would have made) is dead.
ALIVE_TTL = 5
BEAT_SECONDS = 1.5
CONFIRM_SECONDS = 2 * BEAT_SECONDS
# The journal outlives the lease, after which the sweeper decides anyway.
JOURNAL_TTL = int(sending.SENDING_LEASE.total_seconds()) * 2
LEASE_FIELD = "lease"
STARTED = "s"
ANSWERED = "a:"


def lease_of(now: datetime) -> datetime:
    """A claim's deadline (sending.SENDING_LEASE on), unique to the claim with random
    microseconds: the journal names a claim's rows by it."""
    return now + sending.SENDING_LEASE + timedelta(microseconds=random.randrange(10**6))


def _database() -> str:
    return connections["default"].settings_dict["NAME"]


def registry_key() -> str:
    return f"outbox:senders:{_database()}"


def alive_key(sender_id: str) -> str:
    return f"outbox:sender:{_database()}:{sender_id}"


def journal_key(sender_id: str) -> str:
    return f"outbox:journal:{_database()}:{sender_id}"


class Journal:
    """One sender's journal. Inactive (writes nothing) without Redis or while Redis is away
    for the current round."""

    def __init__(self, client: redis.Redis | None = None, *, sender_id: str | None = None):
        self.client = client if client is not None else wake.client()
        self.sender_id = sender_id or uuid.uuid4().hex
        self.key = journal_key(self.sender_id) if self.client is not None else ""
        self.active = False
        self._local = threading.local()  # each sending thread's answer not yet written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beat()

    # --- being alive -----------------------------------------------------------------
    def beat(self) -> bool:
        if self.client is None:
            return False
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(alive_key(self.sender_id), "1", ex=ALIVE_TTL)
            pipe.sadd(registry_key(), self.sender_id)
            pipe.execute()
            return True
        except redis.RedisError:
            logger.warning("sender could not renew its alive key", exc_info=True)
            return False

    def start_beating(self) -> bool:
        """Renew the alive key from a thread of its own until stop_beating; True when this
        call started the thread (False: one runs already, or there is no Redis)."""
        if self.client is None or self._thread is not None:
            return False
        self.beat()
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(BEAT_SECONDS):
                self.beat()

        self._thread = threading.Thread(target=loop, name="sender-alive", daemon=True)
        self._thread.start()
        return True

    def stop_beating(self) -> None:
        self._stop.set()
        self._thread = None

    def close(self) -> None:
        """A clean stop: the claim was recorded, so nothing is left to recover."""
        self.stop_beating()
        if self.client is None:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(alive_key(self.sender_id), self.key)
            pipe.srem(registry_key(), self.sender_id)
            pipe.execute()
        except redis.RedisError:
            pass

    # --- one round -----------------------------------------------------------------------
    def begin(self, lease: datetime) -> None:
        """Before a claim: this round's lease deadline replaces the last round's journal."""
        self.active = False
        self._local = threading.local()
        if self.client is None:
            return
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(self.key)
            pipe.hset(self.key, LEASE_FIELD, lease.isoformat())
            pipe.expire(self.key, JOURNAL_TTL)
            pipe.execute()
        except redis.RedisError:
            logger.warning("sender journal unavailable; this round relies on the lease")
            return
        self.active = True

    def started(self, message_id: int) -> None:
        """Just before the HTTP call, in one round trip with this thread's last answer.
        Raises redis errors (the row is then not sent)."""
        if not self.active:
            return
        answer = self._pending_answer()
        if answer is None:
            self.client.hset(self.key, str(message_id), STARTED)
            return
        self.client.hset(self.key, mapping={answer[0]: answer[1], str(message_id): STARTED})

    def answered(self, message_id: int, external_id: str) -> None:
        """Kept until this thread's next `started` or `flush`, which write it in their round
        trip: a thread's next send, or the end of its share of the round, comes right after,
        so a sender killed meanwhile leaves this row "started" (the unknown-outcome rule) for
        at most those few milliseconds."""
        if self.active:
            self._local.answer = (str(message_id), ANSWERED + external_id)

    def flush(self) -> None:
        """Write this thread's last answer (the end of its share of a round)."""
        answer = self._pending_answer()
        if answer is None or not self.active:
            return
        try:
            self.client.hset(self.key, answer[0], answer[1])
        except redis.RedisError:
            # Left as "started": if this sender dies now, the unknown-outcome rule applies.
            logger.warning("sender journal missed an answer", extra={"message_id": answer[0]})

    def _pending_answer(self) -> tuple[str, str] | None:
        answer = getattr(self._local, "answer", None)
        self._local.answer = None
        return answer

    def provider(self, provider, message_id: int):
        return _Journaled(provider, self, message_id)


class _Journaled:
    """The provider as sending.attempt sees it: every send is journaled around the call."""

    def __init__(self, provider, journal: Journal, message_id: int) -> None:
        self._provider, self._journal, self._message_id = provider, journal, message_id

    def send(self, chatbot, to, message, **kwargs):
        self._journal.started(self._message_id)
        result = self._provider.send(chatbot, to, message, **kwargs)
        self._journal.answered(self._message_id, result.external_id)
        return result

    def __getattr__(self, name):
        return getattr(self._provider, name)


# --- recovery ----------------------------------------------------------------------------


class Recovery:
    """Finds dead senders and takes their claims over (see the module docstring). `suspects`
    remembers when each sender was first seen without its alive key."""

    def __init__(self, client: redis.Redis | None = None, *, own_id: str = "") -> None:
        self.client = client if client is not None else wake.client()
        self.own_id = own_id
        self.suspects: dict[str, float] = {}

    def run(self, *, now: float | None = None) -> int:
        """Take over every sender known dead; return how many rows were recovered."""
        if self.client is None:
            return 0
        now = time.monotonic() if now is None else now
        try:
            ids = sorted(
                i.decode() if isinstance(i, bytes) else i
                for i in self.client.smembers(registry_key())
            )
            ids = [i for i in ids if i != self.own_id]
            if not ids:
                self.suspects.clear()
                return 0
            pipe = self.client.pipeline(transaction=False)
            for sender_id in ids:
                pipe.exists(alive_key(sender_id))
            alive = dict(zip(ids, pipe.execute(), strict=True))
        except redis.RedisError:
            logger.warning("sender could not look for dead senders", exc_info=True)
            return 0
        recovered = 0
        for sender_id in ids:
            if alive[sender_id]:
                self.suspects.pop(sender_id, None)
                continue
            first_seen = self.suspects.setdefault(sender_id, now)
            if now - first_seen < CONFIRM_SECONDS:
                continue  # maybe a Redis restart lost the key: give it time to beat again
            try:
                recovered += self._take_over(sender_id)
            except redis.RedisError:
                logger.warning("sender could not recover a dead sender", exc_info=True)
        return recovered

    def _take_over(self, sender_id: str) -> int:
        lock = f"outbox:recovering:{_database()}:{sender_id}"
        if not self.client.set(lock, self.own_id or "1", nx=True, ex=30):
            return 0  # another sender is on it
        try:
            entries = {
                (k.decode() if isinstance(k, bytes) else k): (
                    v.decode() if isinstance(v, bytes) else v
                )
                for k, v in self.client.hgetall(journal_key(sender_id)).items()
            }
            count = recover_claim(entries)
            pipe = self.client.pipeline(transaction=False)
            pipe.delete(journal_key(sender_id))
            pipe.srem(registry_key(), sender_id)
            pipe.execute()
        finally:
            self.client.delete(lock)
        self.suspects.pop(sender_id, None)
        if count:
            logger.warning(
                "took over a dead sender's claim", extra={"sender": sender_id, "rows": count}
            )
        return count


def recover_claim(entries: dict[str, str]) -> int:
    """Apply a dead sender's journal (field -> value, as HGETALL gives it) to the rows still
    `sending` under its lease. Idempotent: a row moved on since is left alone."""
    lease = parse_datetime(entries.get(LEASE_FIELD, "") or "")
    if lease is None:
        return 0
    ours = Q(status=Message.Status.SENDING, next_attempt_at=lease)
    rows = list(
        Message.objects.filter(ours, direction=Message.Direction.OUT)
        .only("pk", "conversation_id", "tenant_id", "attempts")
        .order_by("id")
    )
    if not rows:
        return 0
    answered: list[tuple[Message, str]] = []
    with transaction.atomic():
        for row in rows:
            state = entries.get(str(row.pk), "")
            if state.startswith(ANSWERED):
                external_id = state[len(ANSWERED) :]
                if Message.objects.filter(ours, pk=row.pk).update(
                    status=Message.Status.SENT,
                    provider_message_id=external_id,
                    sent_at=timezone.now(),
                    attempts=F("attempts") + 1,
                    next_attempt_at=None,
                    error_code="",
                    error_detail="",
                ):
                    answered.append((row, external_id))
            elif state == STARTED:
                sending.fail(
                    row,
                    sending.SEND_INTERRUPTED,
                    _(
                        "O envio foi interrompido e não se sabe se chegou ao provedor; não foi "
                        "repetido para não duplicar. Use “reenviar” se a mensagem não chegou."
                    ),
                    only_if=Q(next_attempt_at=lease),
                )
            else:
                Message.objects.filter(ours, pk=row.pk).update(
                    status=Message.Status.QUEUED, next_attempt_at=None
                )
    if answered:
        conversations = Conversation.objects.select_related("chatbot", "cliente").in_bulk(
            {row.conversation_id for row, _ext in answered}
        )
        for row, _external_id in answered:
            conversation = conversations.get(row.conversation_id)
            outcome = sending.Outcome(
                Message.Status.SENT,
                {},
                final=True,
                provider_key=conversation.chatbot.provider if conversation else "",
            )
            sending.reported(row, outcome, conversation)
    return len(rows)
