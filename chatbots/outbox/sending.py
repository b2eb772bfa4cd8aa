"""Sending: the body of the send task, its retries, the sweeper and the admin's "retry";
`attempt`, the try of one row, is shared with the batch sender (chatbots.outbox.sender).

Lifecycle of an outbound row (all state in the database, so a crash loses nothing and a
duplicate task does nothing):

    queued ──claim (conditional UPDATE)──▶ sending ──▶ sent ─(status webhooks)─▶ delivered, read
      ▲                                       │
      └── retryable error (backoff) / no token┤
                                              └──▶ failed (permanent error, window closed,
                                                   unapproved template, a gate refused,
                                                   retries exhausted)

* Order: a conversation's rows go out one at a time by id. While the oldest unsent row
  waits for a retry, the rows after it wait too; once a row is final (sent or failed) the
  next one goes.
* `next_attempt_at` is when a `queued` row may be tried again (backoff or rate limit), and,
  while a row is `sending`, the deadline of that claim (see `sweep`).
* Retries are re-enqueued with a countdown of at most MAX_COUNTDOWN seconds, far below the
  broker's visibility timeout (CELERY_VISIBILITY_TIMEOUT, 1 h), so a delayed task is never
  redelivered to a second worker while it waits. The periodic `sweep` re-enqueues whatever a
  lost task left behind.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Protocol

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from prometheus_client import Counter

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import gates, watch
from chatbots.outbox.queue import enqueue_send
from chatbots.outbox.window import (
    OUTSIDE_WINDOW,
    outside_window_detail,
    template_resolve,
    window_open,
)
from chatbots.providers.base import Provider, ProviderError
from chatbots.providers.registry import UnknownProvider, get_provider
from chatbots.ratelimit import Grant, chatbot_take_token, seconds_until
from chatbots.wire import MessageLimitError, Template, outbound_from_dict
from clientes.models import Cliente
from config import outage

logger = logging.getLogger(__name__)

# Backoff steps in seconds for retries 1..5 (then the row fails). Short on purpose: a chat
# reply that comes a minute late is already a bad reply.
RETRY_DELAYS = (1, 2, 4, 8, 16)
MAX_RETRIES = len(RETRY_DELAYS)
MAX_COUNTDOWN = 60.0  # also bounds a provider's Retry-After; << broker visibility timeout
# How long a claim may sit in `sending` before the sweeper decides the worker died. One send
# takes at most connect + read timeouts (settings.HTTP_TIMEOUT_SECONDS, 10 s each by default).
SENDING_LEASE = timedelta(minutes=5)
RECORD_FOR = 60.0  # seconds a send's outcome is retried while PostgreSQL is away (_record)

# Our own error codes (Meta's are numbers).
NO_RECIPIENT = "no_recipient"
UNKNOWN_PROVIDER = "unknown_provider"
INVALID_PAYLOAD = "invalid_payload"
SEND_INTERRUPTED = "send_interrupted"
INTERNAL_ERROR = "internal_error"
# PostgreSQL or Redis was away while the row was tried (config.outage): it waits and goes
# again, no try spent; a row never fails for it.
INFRASTRUCTURE = "infrastructure"
# Read receipts: tries of one receipt that met a 429/5xx or a timeout, and the waits before
# the 2nd and 3rd (seconds). A courtesy: never more than this, so a receipt never holds a
# sender thread long while replies wait (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/mark-message-as-read).
READ_TRIES = 3
READ_RETRY_DELAYS = (0.5, 1.5)

SENT = Counter(
    "chatbot_outbound_sent_total", "Outbound messages accepted by the provider", ["provider"]
)
FAILED = Counter(
    "chatbot_outbound_failed_total", "Outbound messages that failed for good", ["code"]
)
RETRIED = Counter(
    "chatbot_outbound_retries_total", "Outbound sends scheduled for another attempt", ["code"]
)


def send_pending(conversation_id: int, *, read: Sequence[str] = ()) -> None:
    """Send the conversation's queued outbound rows, oldest first, one at a time; then the
    read receipts (external ids of the customer's messages) that rode along with them
    (queue_mark_read), whatever happened to the rows."""
    conversation = (
        Conversation.objects.select_related("chatbot", "cliente").filter(pk=conversation_id).first()
    )
    if conversation is None:
        return
    try:
        _send_queued(conversation)
    finally:
        for external_id in read:
            _mark_read(conversation.chatbot, external_id)


def _send_queued(conversation: Conversation) -> None:
    conversation_id = conversation.pk
    try:
        provider: Provider | None = get_provider(conversation.chatbot.provider)
        provider_error = ""
    except UnknownProvider as exc:
        provider, provider_error = None, str(exc)
    while True:
        head = (
            Message.objects.filter(
                conversation_id=conversation_id,
                direction=Message.Direction.OUT,
                status__in=[Message.Status.QUEUED, Message.Status.SENDING],
            )
            .order_by("id")
            .first()
        )
        if head is None or head.status == Message.Status.SENDING:
            return  # nothing left, or another worker is on the head and will go on
        now = timezone.now()
        if head.next_attempt_at is not None and head.next_attempt_at > now:
            return  # backing off: whoever set next_attempt_at scheduled the retry
        claimed = (
            Message.objects.filter(pk=head.pk, status=Message.Status.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(status=Message.Status.SENDING, next_attempt_at=now + SENDING_LEASE)
        )
        if not claimed:
            return  # another worker claimed it first and carries on with the rest
        if provider is None:
            fail(head, UNKNOWN_PROVIDER, provider_error)
            continue
        if not _send_one(conversation, provider, head):
            return


def outgoing_of(conversation: Conversation) -> gates.Outgoing:
    return gates.Outgoing(
        tenant_id=conversation.tenant_id,
        chatbot=conversation.chatbot,
        cliente=conversation.cliente,
    )


@dataclass
class Outcome:
    """What trying one claimed row came to, before anything is written: the columns to set
    (`fields`, out of `sending`), whether the conversation goes on with its next row
    (`final`), and what to count and report. The Celery task applies it row by row
    (`_send_one`), the sender (chatbots.outbox.sender) a whole batch in one statement."""

    status: str
    fields: dict
    final: bool
    code: str = ""  # an error code: the failed/retry counters and the log
    detail: str = ""
    countdown: float = 0.0  # queued again: seconds until it may be tried
    provider_key: str = ""  # sent: the counter's label


def failed_outcome(code: str, detail: str, *, attempts: int | None = None) -> Outcome:
    fields = {
        "status": Message.Status.FAILED,
        "error_code": code[:32],
        "error_detail": detail,
        "failed_at": timezone.now(),
        "next_attempt_at": None,
    }
    if attempts is not None:
        fields["attempts"] = attempts
    return Outcome(Message.Status.FAILED, fields, final=True, code=code, detail=detail)


def _later(countdown: float, **fields) -> Outcome:
    fields = {
        "status": Message.Status.QUEUED,
        "next_attempt_at": timezone.now() + timedelta(seconds=countdown),
        **fields,
    }
    return Outcome(
        Message.Status.QUEUED,
        fields,
        final=False,
        code=fields.get("error_code", ""),
        countdown=countdown,
    )


class Prepared(Protocol):
    """What a sender's round asked once for all its rows (chatbots.outbox.rounds.Round)."""

    def refusal(self, row: Message) -> gates.Refusal | None: ...

    def grant(self, chatbot: Chatbot) -> Grant: ...


def attempt(
    conversation: Conversation, provider: Provider, row: Message, prepared: Prepared | None = None
) -> Outcome:
    """Try one claimed row: the SEND gates, the payload, the template or the 24-hour window,
    the recipient, the per-number rate governor, then the provider. Writes nothing.
    `prepared`: the gates' answers and the governor's tokens a sender's round asked once for
    all its rows (chatbots.outbox.rounds).

    Safe to call from several threads for different conversations. Raises only what a gate
    or the rate governor raised before the provider was called (and SoftTimeLimitExceeded).
    """
    chatbot = conversation.chatbot
    if prepared is not None:
        refused = prepared.refusal(row)
    else:
        refused = gates.refusal(gates.SEND, outgoing_of(conversation))
    if refused is not None:
        return failed_outcome(*refused)
    try:
        message = outbound_from_dict(row.payload)
    except (MessageLimitError, TypeError, KeyError) as exc:
        return failed_outcome(INVALID_PAYLOAD, f"{type(exc).__name__}: {exc}")
    if isinstance(message, Template):
        # Components come from the stored definition now, with every parameter checked.
        resolved, problem = template_resolve(chatbot=chatbot, template=message)
        if problem:
            return failed_outcome(*problem)
        message = resolved
    elif not window_open(conversation):
        # Meta would refuse it (131047) anyway; never send it.
        return failed_outcome(OUTSIDE_WINDOW, outside_window_detail(conversation))
    to = recipient_of(conversation.cliente)
    if not to:
        return failed_outcome(NO_RECIPIENT, _("O cliente não tem telefone nem ID do WhatsApp."))

    grant = prepared.grant(chatbot) if prepared is not None else chatbot_take_token(chatbot=chatbot)
    if not grant.allowed:
        return _later(seconds_until(grant))

    attempts = row.attempts + 1
    try:
        result = provider.send(chatbot, to, message)
    except ProviderError as exc:
        if exc.retryable and attempts <= MAX_RETRIES:
            outcome = _later(
                retry_countdown(attempts, retry_after=exc.retry_after),
                attempts=attempts,
                # Kept while retrying, so the admin shows why the message is late.
                error_code=exc.code[:32],
                error_detail=exc.detail,
            )
            outcome.code = exc.code
            return outcome
        return failed_outcome(exc.code, exc.detail, attempts=attempts)
    except SoftTimeLimitExceeded:
        raise
    except outage.TRANSIENT as exc:
        # Redis or PostgreSQL away inside the provider (its token, its session): try again
        # with backoff like a 5xx, within the same retry budget.
        if attempts <= MAX_RETRIES:
            return _later(
                retry_countdown(attempts),
                attempts=attempts,
                error_code=INFRASTRUCTURE,
                error_detail=f"{type(exc).__name__}: {exc}",
            )
        return failed_outcome(INFRASTRUCTURE, f"{type(exc).__name__}: {exc}", attempts=attempts)
    except Exception as exc:  # a bug in a provider: fail this row, keep the queue moving
        logger.exception("provider crashed while sending", extra={"message_id": row.pk})
        return failed_outcome(INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", attempts=attempts)
    fields = {
        "status": Message.Status.SENT,
        "provider_message_id": result.external_id,
        "sent_at": timezone.now(),
        "attempts": attempts,
        "next_attempt_at": None,
        "error_code": "",
        "error_detail": "",
    }
    return Outcome(Message.Status.SENT, fields, final=True, provider_key=provider.key)


def reported(
    row: Message, outcome: Outcome, conversation: Conversation | None, *, hooks: bool = True
) -> None:
    """Count, log and tell the watchers about an outcome that was written; the on-sent
    hooks too unless `hooks` is False (the sender calls them once for its batch)."""
    if outcome.status == Message.Status.SENT:
        SENT.labels(provider=outcome.provider_key).inc()
        watch.status_changed(
            tenant_id=row.tenant_id,
            status=Message.Status.SENT,
            message_id=row.pk,
            conversation=conversation,
        )
        if conversation is not None and hooks:
            gates.sent(outgoing_of(conversation))
    elif outcome.status == Message.Status.FAILED:
        FAILED.labels(code=outcome.code).inc()
        watch.status_changed(
            tenant_id=row.tenant_id,
            status=Message.Status.FAILED,
            error=outcome.detail,
            message_id=row.pk,
        )
        logger.warning(
            "outbound message failed",
            extra={
                "message_id": row.pk,
                "conversation_id": row.conversation_id,
                "code": outcome.code,
            },
        )
    elif outcome.code:
        RETRIED.labels(code=outcome.code).inc()
        logger.info(
            "outbound send will be retried",
            extra={
                "message_id": row.pk,
                "code": outcome.code,
                "attempt": outcome.fields.get("attempts"),
            },
        )


def _send_one(conversation: Conversation, provider: Provider, row: Message) -> bool:
    """Try one claimed row. True when it is final (go on with the next), False to stop."""
    try:
        outcome = attempt(conversation, provider, row)
    except SoftTimeLimitExceeded:
        # Whether the provider got it is unknown: same choice as for a stuck claim (sweep).
        fail(row, SEND_INTERRUPTED, _("O envio foi interrompido (tempo limite da tarefa)."))
        raise
    except outage.TRANSIENT as exc:
        # A gate or the rate governor could not reach Redis or PostgreSQL: nothing went out.
        # Back to the queue, no try spent; the task is retried (tasks.send_outbound), and
        # the sweeper finds the row if even that cannot be queued.
        countdown = retry_countdown(2)
        _transition(
            row,
            status=Message.Status.QUEUED,
            next_attempt_at=timezone.now() + timedelta(seconds=countdown),
            error_code=INFRASTRUCTURE,
            error_detail=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    moved = _record(row, outcome)
    # A send the provider accepted is counted even when the row was no longer ours (swept
    # as interrupted meanwhile): the customer got it, and the plan's usage must say so.
    if moved or outcome.status != Message.Status.FAILED:
        reported(row, outcome, conversation)
    if not outcome.final:
        enqueue_send(conversation.pk, countdown=outcome.countdown)
    return outcome.final


def _record(row: Message, outcome: Outcome) -> bool:
    """Write what the provider answered, riding out PostgreSQL dropping meanwhile: the answer
    (a wamid, a retry's countdown) is known only here, and a row left `sending` would be
    failed as interrupted by the sweep although the customer got it. Tries for RECORD_FOR
    seconds, then gives up (raises) and leaves the row to the sweep."""
    backoff = outage.Backoff("outbound outcome")
    deadline = time.monotonic() + RECORD_FOR
    while True:
        try:
            moved = _transition(row, **outcome.fields)
            backoff.ok()
            return moved
        except outage.TRANSIENT as exc:
            if not connection.in_atomic_block:
                connection.close()  # the next try opens a new connection
            wait = backoff.failed(exc)
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)


def _transition(row: Message, *, only_if: Q | None = None, **fields) -> bool:
    """Move a row we claimed out of `sending`; a row someone else moved is left alone."""
    rows = Message.objects.filter(pk=row.pk, status=Message.Status.SENDING)
    if only_if is not None:
        rows = rows.filter(only_if)
    moved = rows.update(**fields)
    if not moved:
        logger.warning(
            "outbound row was no longer ours to move",
            extra={"message_id": row.pk, "new_status": fields.get("status", "")},
        )
    return bool(moved)


def fail(
    row: Message,
    code: str,
    detail: str,
    *,
    attempts: int | None = None,
    only_if: Q | None = None,
) -> None:
    """Mark a row we claimed `failed` for good, with why."""
    outcome = failed_outcome(code, detail, attempts=attempts)
    if _transition(row, only_if=only_if, **outcome.fields):
        reported(row, outcome, None)


def retry_countdown(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): the step of RETRY_DELAYS with "equal
    jitter" (between half and all of it), so conversations that hit a rate limit together do
    not all come back in the same instant; never less than the provider's Retry-After."""
    step = RETRY_DELAYS[min(max(attempt, 1), len(RETRY_DELAYS)) - 1]
    countdown = step / 2 + random.uniform(0, step / 2)
    if retry_after:
        countdown = max(countdown, retry_after)
    return min(countdown, MAX_COUNTDOWN)


def recipient_of(cliente: Cliente) -> str:
    """Where to send: the phone (canonical digits), else the WhatsApp id, else the BSUID."""
    return cliente.telefone or cliente.wa_id or cliente.whatsapp_user_id


# --- Maintenance -------------------------------------------------------------------------


def sweep(*, older_than_seconds: int = 60) -> int:
    """Re-enqueue conversations whose queued rows nobody is sending. Returns how many.

    Rows stuck in `sending` past their claim's deadline (the worker died between claiming
    and recording the provider's answer) are marked failed with `send_interrupted`, NOT
    retried. Whether the provider accepted the message is unknown, and the Cloud API has no
    idempotency key: retrying risks the customer getting the same message twice (a second
    "pedido confirmado", a repeated charge link), which the business cannot take back. A
    failed row is visible in the admin, counted in chatbot_outbound_failed_total, and one
    click on "retry" (retry_failed) sends it again if someone judges it was lost. Marking it
    final also lets the conversation's later rows go out instead of waiting forever. A batch
    sender's claim is taken over sooner and more precisely from its journal
    (chatbots.outbox.journal); this is the rule when there is none.
    """
    now = timezone.now()
    stuck = Message.objects.filter(
        direction=Message.Direction.OUT,
        status=Message.Status.SENDING,
        next_attempt_at__lte=now,
    )
    conversation_ids: set[int] = set()
    for row in stuck.only("pk", "conversation_id"):
        fail(
            row,
            SEND_INTERRUPTED,
            _(
                "O envio foi interrompido e não se sabe se chegou ao provedor; não foi repetido "
                "para não duplicar. Use “reenviar” se a mensagem não chegou."
            ),
            only_if=Q(next_attempt_at__lte=now),  # not a row re-claimed since we looked
        )
        conversation_ids.add(row.conversation_id)
    due = (
        Message.objects.filter(direction=Message.Direction.OUT, status=Message.Status.QUEUED)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(
                next_attempt_at__isnull=True,
                created_at__lte=now - timedelta(seconds=older_than_seconds),
            )
        )
        .order_by()
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    conversation_ids.update(due)
    for conversation_id in sorted(conversation_ids):
        enqueue_send(conversation_id)
    return len(conversation_ids)


def retry_failed(*, message_ids: list[int]) -> int:
    """Admin "retry": failed outbound rows go back to the queue with a fresh retry budget."""
    with transaction.atomic():
        rows = Message.objects.filter(
            pk__in=message_ids, direction=Message.Direction.OUT, status=Message.Status.FAILED
        )
        conversation_ids = set(rows.order_by().values_list("conversation_id", flat=True))
        count = rows.update(
            status=Message.Status.QUEUED,
            attempts=0,
            next_attempt_at=None,
            error_code="",
            error_detail="",
            failed_at=None,
        )
        for conversation_id in sorted(conversation_ids):
            transaction.on_commit(partial(enqueue_send, conversation_id))
    return count


def mark_read(chatbot_id: int, external_id: str) -> None:
    """Body of tasks.mark_read. Blue ticks are a courtesy: a failure is logged, never raised."""
    chatbot = Chatbot.objects.filter(pk=chatbot_id).first()
    if chatbot is not None:
        _mark_read(chatbot, external_id)


def _mark_read(chatbot: Chatbot, external_id: str, *, sleep=None) -> bool:
    """Blue ticks for one inbound message, tried up to READ_TRIES times (read_try); True when
    the provider took it. Called after the turn's replies went (send_pending), so the waits
    never delay a reply; the sender schedules its retries instead of waiting (sender.Sender)."""
    import time

    for number in range(1, READ_TRIES + 1):
        wait = read_try(chatbot, external_id, tries=number)
        if wait is None:
            return True
        if wait < 0:
            return False
        (sleep or time.sleep)(wait)
    return False


def read_try(chatbot: Chatbot, external_id: str, *, tries: int = 1) -> float | None:
    """One try of a read receipt, this being try number `tries`: None when the provider took
    it, the seconds to wait before the next try after a 429/5xx or a timeout
    (ProviderError.retryable; at least the provider's Retry-After, capped by the last of
    READ_RETRY_DELAYS), or -1 when it is dropped (logged): a permanent error, the last try."""
    try:
        get_provider(chatbot.provider).mark_read(chatbot, external_id)
        return None
    except ProviderError as exc:
        if not exc.retryable or tries >= READ_TRIES:
            _read_dropped(chatbot, external_id, exc, tries=tries)
            return -1.0
        step = READ_RETRY_DELAYS[min(tries, len(READ_RETRY_DELAYS)) - 1]
        return min(max(step, exc.retry_after or 0), READ_RETRY_DELAYS[-1])
    except Exception as exc:  # unknown provider, a bug: a courtesy is never worth a crash
        _read_dropped(chatbot, external_id, exc, tries=tries)
        return -1.0


def _read_dropped(chatbot: Chatbot, external_id: str, exc: Exception, *, tries: int = 1) -> None:
    logger.warning(
        "could not mark an inbound message as read",
        extra={
            "chatbot_id": chatbot.pk,
            "external_id": external_id,
            "error": str(exc),
            "tries": tries,
        },
    )
