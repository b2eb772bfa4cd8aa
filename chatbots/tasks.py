"""Celery tasks of the messaging core: thin. They take ids, and one service claims the
work with a conditional UPDATE, so a duplicate delivery of a task does nothing.

The assistant's model call is chatbots.ai.tasks.answer_llm (same task name as before).
"""

from __future__ import annotations

from celery import shared_task


def dispatch_inbound(event_id: int, delay: float = 0.0) -> None:
    """Queue processing of one stored inbound event (in `delay` seconds): chatbots.inbound's
    dispatcher, registered at start-up by chatbots.apps, so the messaging core never imports
    the engine."""
    if delay <= 0:
        process_inbound.delay(event_id)
    elif not process_inbound.app.conf.task_always_eager:
        process_inbound.apply_async((event_id,), countdown=delay)
    # Eager mode (tests, CELERY_TASK_ALWAYS_EAGER) cannot wait: it would run the task now,
    # inside this one, find the burst still open and recurse. The event stays pending; the
    # sweeper (or a test driving the clock) takes it from there.


@shared_task(name="chatbots.tasks.process_inbound", acks_late=True)
def process_inbound(event_id: int) -> None:
    from chatbots import engine

    engine.process_event(event_id)


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
