"""Celery tasks of the outbox: thin. They take ids, and the sending code claims each row with
a conditional UPDATE, so a duplicate delivery of a task does nothing.

The names keep the `chatbots.tasks.` prefix they were first published under: messages
already queued in the broker, the routes in config/celery.py and the beat schedule in
config/schedule.py name them so.
"""

from __future__ import annotations

from celery import shared_task

from chatbots.outbox import sending
from config import outage


# PostgreSQL or Redis away (config.outage.TRANSIENT): the task is tried again with capped
# backoff for as long as the outage lasts; its rows stay queued meanwhile (sending._send_one).
@shared_task(
    name="chatbots.tasks.send_outbound",
    bind=True,
    acks_late=True,
    max_retries=None,
    autoretry_for=outage.TRANSIENT,
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
)
def send_outbound(self, conversation_id: int, read: list[str] | None = None) -> None:
    """Send the conversation's queued replies, then the read receipts (external ids of the
    customer's messages) that rode along (queue.queue_mark_read)."""
    sending.send_pending(conversation_id, read=read or ())


@shared_task(name="chatbots.tasks.sweep_outbound")
def sweep_outbound() -> int:
    return sending.sweep()


@shared_task(name="chatbots.tasks.mark_read", acks_late=True, max_retries=3)
def mark_read(chatbot_id: int, external_id: str) -> None:
    sending.mark_read(chatbot_id, external_id)
