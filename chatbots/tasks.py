"""Celery tasks of the messaging core: thin. They take ids, and one service claims the
work with a conditional UPDATE, so a duplicate delivery of a task does nothing.

Customers' messages are not tasks: the processor drains them (chatbots.processor). The
assistant's model call is chatbots.ai.tasks.answer_llm (same task name as before).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="chatbots.tasks.process_inbound", acks_late=True)
def process_inbound(event_id: int | None = None) -> None:
    """Inbound events are the processor's (manage.py run_processor, chatbots.processor);
    a task of this name still in the broker from before only wakes it."""
    from chatbots import processor

    processor.dispatch(event_id or 0)


@shared_task(name="chatbots.tasks.sweep_inbound")
def sweep_inbound() -> int:
    from chatbots import inbound

    return inbound.sweep()


@shared_task(name="chatbots.tasks.silent_bots_alert")
def silent_bots_alert() -> int:
    """Tell owners of a number that stopped answering (chatbots.health)."""
    from chatbots import health

    return health.silent_bots_alert()


@shared_task(name="chatbots.tasks.bulk_sync_templates")
def bulk_sync_templates() -> int:
    """Pull every Meta bot's templates with their status (chatbots.template_sync)."""
    from chatbots import template_sync

    return template_sync.templates_sync_all()
