"""The outbox watcher that notices stored customer media and queues its download.

Registered in MediaConfig.ready (chatbots.outbox.watch.register_on_stored). Cheap on the
bot-only path: a text turn costs nothing; a media message costs one INSERT and a task queued
on commit, so the reply never waits on Meta's media server.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from chatbots.models import Conversation, Message
from media.models import Attachment

# The message types that carry a file (chatbots.wire.MEDIA_KINDS).
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


def _with_ids(conversation: Conversation, rows: Sequence[Message]) -> list[Message]:
    # bulk_create(ignore_conflicts) leaves ids unset: look them up by the provider's id.
    missing = {m.provider_message_id for m in rows if m.pk is None and m.provider_message_id}
    if missing:
        found = dict(
            Message.objects.filter(
                conversation=conversation, provider_message_id__in=missing
            ).values_list("provider_message_id", "pk")
        )
        for m in rows:
            if m.pk is None:
                m.pk = m.id = found.get(m.provider_message_id)
    return [m for m in rows if m.pk is not None]


def _media_of(row: Message) -> dict | None:
    if row.direction != Message.Direction.IN or row.type not in MEDIA_KINDS:
        return None
    data = (row.payload or {}).get("data") or {}
    media = data.get("media")
    return media if isinstance(media, dict) else None


def messages_stored(conversation: Conversation, rows: Sequence[Message]) -> None:
    wanted = [m for m in rows if _media_of(m) is not None]
    if not wanted:
        return
    attachments = []
    for row in _with_ids(conversation, wanted):
        media = _media_of(row) or {}
        attachments.append(
            Attachment(
                tenant_id=row.tenant_id,
                message_id=row.pk,
                kind=row.type,
                provider_media_id=str(media.get("id") or "")[:255],
                url=str(media.get("url") or "")[:2000],
                filename=str(media.get("filename") or "")[:255],
                voice=bool(media.get("voice")),
            )
        )
    created = Attachment.objects.bulk_create(attachments, ignore_conflicts=True)
    message_ids = [a.message_id for a in created]
    ids = list(
        Attachment.objects.filter(
            message_id__in=message_ids, status=Attachment.Status.PENDING
        ).values_list("pk", flat=True)
    )

    def queue() -> None:
        from media import tasks

        for pk in ids:
            tasks.media_download.delay(pk)

    transaction.on_commit(queue)
