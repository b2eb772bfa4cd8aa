"""The download of a customer's file, its own retryable job (never on the reply path)."""

from __future__ import annotations

from celery import shared_task

# A media server's 5xx or a timeout is tried again after 10 s, 20 s, 40 s ... ; after
# MAX_ATTEMPTS the attachment is marked failed (the message is kept either way). The count
# lives on the row (Attachment.attempts), so a worker restart does not reset it.
MAX_ATTEMPTS = 6


@shared_task(name="media.tasks.media_download")
def media_download(attachment_id: int) -> str:
    from media import services

    try:
        return services.attachment_download(attachment_id=attachment_id).status
    except services.TryAgain as exc:
        attempts = services.attachment_attempts(attachment_id=attachment_id)
        if attempts >= MAX_ATTEMPTS:
            return services.attachment_give_up(attachment_id=attachment_id, reason=str(exc)).status
        media_download.apply_async((attachment_id,), countdown=10 * 2 ** (attempts - 1))
        return "retrying"


@shared_task(name="media.tasks.sweep_downloads")
def sweep_downloads() -> int:
    """Every 5 minutes: downloads still pending long after their message (the broker was
    down when they were queued, or a worker died) are queued again; a file stored twice
    is kept once (by hash), so a duplicate does no harm."""
    from media import services

    ids = services.stale_downloads()
    for pk in ids:
        media_download.delay(pk)
    return len(ids)
