"""Celery tasks of the messaging core: thin. They take ids, and one service claims the
work with a conditional UPDATE, so a duplicate delivery of a task does nothing.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="chatbots.tasks.process_inbound", acks_late=True)
def process_inbound(event_id: int) -> None:
    from chatbots import engine

    engine.process_event(event_id)


@shared_task(name="chatbots.tasks.sweep_inbound")
def sweep_inbound() -> int:
    from chatbots import inbound

    return inbound.sweep()


# Routed to the `llm` queue by config/celery.py ("chatbots.tasks.*_llm"): a model call takes
# seconds and must never hold up the replies queue. The SDK's timeout and retries end well
# inside the soft limit.
@shared_task(name="chatbots.tasks.answer_llm", acks_late=True, soft_time_limit=90, time_limit=120)
def answer_llm(message_id: int) -> None:
    from chatbots.ai import assistant

    assistant.answer_message(message_id=message_id)
