"""Watchers of stored messages: code above the messaging core that wants to know, at once,
when a conversation's messages are stored or change status (the attendant inbox publishes
them to the staff's screens: inbox.events).

A watcher registers itself from its AppConfig.ready(), so the outbox imports nothing
above it; the code that stores messages calls `messages_stored` / `status_changed`
explicitly (bulk paths stay plain SQL, no signals). A watcher must be cheap on the bot-only
path and never raise; an exception is logged and swallowed here as well, because a screen
not refreshed must never fail a webhook or a send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from chatbots.models import Conversation, Message

logger = logging.getLogger(__name__)

StoredHook = Callable[[Conversation, Sequence[Message]], None]
StatusHook = Callable[..., None]  # (*, tenant_id, external_id, status, error)

_on_stored: list[StoredHook] = []
_on_status: list[StatusHook] = []


def register_on_stored(hook: StoredHook) -> None:
    """Call `hook(conversation, rows)` whenever messages of a conversation are stored:
    inbound (the engine), queued outbound (chatbots.outbox.queue), echoes from the phone."""
    if hook not in _on_stored:
        _on_stored.append(hook)


def register_on_status(hook: StatusHook) -> None:
    """Call `hook(tenant_id=, external_id=, status=, error=)` when a provider moved one of
    our outbound messages to another status."""
    if hook not in _on_status:
        _on_status.append(hook)


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    for hook in _on_stored:
        try:
            hook(conversation, rows)
        except Exception:
            logger.exception("message watcher failed", extra={"conversation_id": conversation.pk})


def status_changed(*, tenant_id: int, external_id: str, status: str, error: str = "") -> None:
    for hook in _on_status:
        try:
            hook(tenant_id=tenant_id, external_id=external_id, status=status, error=error)
        except Exception:
            logger.exception("status watcher failed")
