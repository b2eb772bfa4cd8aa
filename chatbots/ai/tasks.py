"""Celery task of the assistant: the model call, on the `llm` queue.

The name stays "chatbots.tasks.answer_llm": queued messages carry it, and config/celery.py
routes "chatbots.tasks.*_llm" to `llm` by name. config/celery.py lists this module in
`include`, since autodiscovery only finds an app's own `tasks` module.
"""

from __future__ import annotations

from celery import shared_task


# A model call takes seconds and must never hold up the replies queue. The SDK's timeout and
# retries end well inside the soft limit.
@shared_task(name="chatbots.tasks.answer_llm", acks_late=True, soft_time_limit=90, time_limit=120)
def answer_llm(message_id: int) -> None:
    from chatbots.ai import assistant

    assistant.answer_message(message_id=message_id)


@shared_task(
    name="chatbots.tasks.transcribe_llm", acks_late=True, soft_time_limit=90, time_limit=120
)
def transcribe_llm(attachment_id: int) -> None:
    """A voice note's transcription (chatbots.ai.transcribe), on the `llm` queue."""
    from chatbots.ai import transcribe

    transcribe.voice_note_transcribe(attachment_id=attachment_id)
