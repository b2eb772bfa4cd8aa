"""Celery tasks of the messaging core: thin. They take ids, and one service claims the
work with a conditional UPDATE, so a duplicate delivery of a task does nothing.

The assistant's model call is chatbots.ai.tasks.answer_llm (same task name as before).
"""

from __future__ import annotations

from celery import shared_task


def dispatch_inbound(event_id: int) -> None:
    """Queue processing of one stored inbound event: chatbots.inbound's dispatcher, registered
    at start-up by chatbots.apps, so the messaging core never imports the engine."""
    process_inbound.delay(event_id)


@shared_task(name="chatbots.tasks.process_inbound", acks_late=True)
def process_inbound(event_id: int) -> None:
    from chatbots import engine

    engine.process_event(event_id)


@shared_task(name="chatbots.tasks.sweep_inbound")
def sweep_inbound() -> int:
    from chatbots import inbound

    return inbound.sweep()
