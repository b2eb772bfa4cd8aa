"""Queueing: outbound rows saved inside the caller's transaction, sent once it commits.

The engine (a turn's replies), the assistant and send_to_customer queue here. Once the
transaction commits, the sender (chatbots.outbox.sender, `manage.py run_sender`) is nudged
(chatbots.outbox.wake) and claims the rows itself; when no sender listens (or
SENDER_ENABLED is off) the send task (chatbots.outbox.tasks.send_outbound) takes them, as
before (chatbots.outbox.sending).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial

from django.conf import settings
from django.db import transaction

from chatbots import deferred
from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import wake, watch
from chatbots.wire import Outbound

logger = logging.getLogger(__name__)


def _queued_row(conversation: Conversation, msg: Outbound) -> Message:
    """An unsaved outbound row of the outbox, queued to be sent."""
    return Message(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        direction=Message.Direction.OUT,
        status=Message.Status.QUEUED,
        type=msg.kind,
        text=msg.preview,
        payload=msg.to_dict(),
    )


def queue_replies(*, conversation: Conversation, messages: list[Outbound]) -> list[Message]:
    """Save `messages` as queued outbound rows and send them once the transaction commits."""
    if not messages:
        return []
    rows = [_queued_row(conversation, msg) for msg in messages]
    # In the processor's batch the rows go in its one INSERT (chatbots.deferred); their ids
    # are set before any later statement runs.
    if not deferred.messages_add(rows):
        rows = Message.objects.bulk_create(rows)
    send = _PendingSend(conversation.pk, conversation.chatbot_id, batched=deferred.active())
    # The read receipt queued next in this transaction rides with this send (one task instead
    # of two per message: queue_mark_read).
    conversation._pending_send = send
    transaction.on_commit(send)
    watch.messages_stored(conversation, rows)
    return rows


def queue_many(
    items: Sequence[tuple[Conversation, Outbound]],
) -> list[Message]:
    """`queue_replies` for one message to each of many conversations (a campaign's batch):
    one INSERT for every row, and after the commit one nudge of the senders for all of them
    (or, when no sender listens, each conversation's send task). Rows in `items`' order."""
    if not items:
        return []
    rows = Message.objects.bulk_create([_queued_row(c, msg) for c, msg in items])
    sends = [_PendingSend(c.pk, c.chatbot_id) for c, _msg in items]
    transaction.on_commit(partial(_sends_flush_now, sends))
    for (conversation, _msg), row in zip(items, rows, strict=True):
        watch.messages_stored(conversation, [row])
    return rows


def _sends_flush_now(sends: list[_PendingSend]) -> None:
    _batched.sends = [*getattr(_batched, "sends", ()), *sends]
    sends_flush()


class _PendingSend:
    """The after-commit publication of one send_outbound task, and the read receipts
    (external ids) that ride with it."""

    def __init__(self, conversation_id: int, chatbot_id: int, *, batched: bool = False) -> None:
        self.conversation_id = conversation_id
        self.chatbot_id = chatbot_id
        self.read: list[str] = []
        self.batched = batched

    def __call__(self) -> None:
        if self.batched:
            # The processor's batch: one nudge for all its turns (sends_flush, registered
            # after every turn's hook, runs right after them).
            _batched.sends = [*getattr(_batched, "sends", ()), self]
            return
        enqueue_send(self.conversation_id, read=self.read, chatbot_id=self.chatbot_id)


_batched = threading.local()


def sends_flush() -> None:
    """After a processor batch commits: nudge the senders once for the rows and read
    receipts of every turn (one Redis round trip instead of one per turn); when no sender
    listens, each conversation's send task, as `enqueue_send` does. The processor registers
    it with transaction.on_commit after its turns."""
    sends = getattr(_batched, "sends", None) or []
    _batched.sends = []
    if not sends:
        return
    if settings.SENDER_ENABLED:
        receipts = [(s.chatbot_id, external_id) for s in sends for external_id in s.read]
        taken = wake.notify(read=receipts)
        if taken.rows:
            if receipts and not taken.receipts:
                for chatbot_id, external_id in receipts:
                    _dispatch(partial(_mark_read_task, chatbot_id, external_id))
            return
    for send in sends:
        _publish_send(send.conversation_id, read=send.read)


def _mark_read_task(chatbot_id: int, external_id: str) -> None:
    from chatbots.outbox import tasks

    tasks.mark_read.delay(chatbot_id, external_id)


def queue_mark_read(
    *, chatbot: Chatbot, external_id: str, conversation: Conversation | None = None
) -> None:
    """Send the read receipt of an inbound message once the transaction commits.

    When `conversation`'s replies were queued earlier in this same transaction, the receipt
    goes with them: the send task sends it right after the replies, so a message costs one
    Celery task fewer (about 1 ms of CPU and a broker round trip; benchmarks/RESULTS.md).
    Otherwise it gets its own task. The engine calls this after the replies, for that reason.
    """

    send = getattr(conversation, "_pending_send", None)
    if send is not None and _still_pending(send):
        send.read.append(external_id)
        return
    chatbot_id = chatbot.pk
    transaction.on_commit(partial(_mark_read_later, chatbot_id, external_id))


def _mark_read_later(chatbot_id: int, external_id: str) -> None:
    from chatbots.outbox import tasks

    if settings.SENDER_ENABLED and wake.notify(read=[(chatbot_id, external_id)]).receipts:
        return
    _dispatch(lambda: tasks.mark_read.delay(chatbot_id, external_id))


def _still_pending(send: _PendingSend) -> bool:
    """Whether `send` will run at this commit: registered in the current transaction and
    not dropped by a rolled-back savepoint (the engine's failing-handler path)."""
    connection = transaction.get_connection()
    return connection.in_atomic_block and any(
        hook is send for _sids, hook, _robust in connection.run_on_commit
    )


def enqueue_send(
    conversation_id: int,
    *,
    countdown: float = 0.0,
    read: Sequence[str] = (),
    chatbot_id: int | None = None,
) -> None:
    """Have the conversation's queued rows sent: nudge the sender when one listens (it
    claims due rows by itself, retries included), else publish the send task now (or after
    `countdown` seconds). `read`: external ids of the customer's messages of bot
    `chatbot_id` to mark read after the rows."""
    from chatbots.outbox import tasks

    if settings.SENDER_ENABLED:
        receipts = [(chatbot_id, external_id) for external_id in read] if chatbot_id else []
        taken = wake.notify(read=receipts)
        if taken.rows:
            if read and not taken.receipts:
                for external_id in read:
                    _dispatch(partial(tasks.mark_read.delay, chatbot_id, external_id))
            return
    _publish_send(conversation_id, countdown=countdown, read=read)


def _publish_send(
    conversation_id: int, *, countdown: float = 0.0, read: Sequence[str] = ()
) -> None:
    """The send task for the conversation's queued rows (no sender listens)."""
    from chatbots.outbox import tasks

    task = tasks.send_outbound
    if countdown > 0 and task.app.conf.task_always_eager:
        # Eager mode (tests, CELERY_TASK_ALWAYS_EAGER) cannot wait: it would run the task now,
        # inside this one, hit the same backoff and recurse. The row keeps its
        # next_attempt_at; the sweeper (or a test driving the clock) takes it from there.
        return
    if countdown > 0:
        _dispatch(lambda: task.apply_async((conversation_id,), countdown=countdown))
    elif read:
        _dispatch(lambda: task.delay(conversation_id, read=list(read)))
    else:
        _dispatch(lambda: task.delay(conversation_id))


def _dispatch(publish: Callable[[], object]) -> None:
    """Publish a task; a broker outage must not break the caller (the rows are saved and the
    sweeper re-enqueues them)."""
    from chatbots.outbox import tasks

    try:
        publish()
    except Exception:
        if tasks.send_outbound.app.conf.task_always_eager:
            raise  # eager: this is the task's own error, not the broker's; let it show
        logger.exception("could not enqueue a task; the outbound sweeper will retry")
