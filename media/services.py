"""Keeping the files customers send: download, check, store once, link privately, delete.

Downloads (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media):
`GET /{media-id}` with the bot's token answers a URL that works for about five minutes, then
`GET <url>` with the same token answers the bytes. A URL that stopped working is asked for
again by id; Meta keeps the media for 30 days. Evolution hands the decrypted file by the
message's id (a fetcher it registers, `register_fetcher`); Whaticket links a file on the
business's own server (`mediaUrl`), downloaded under the egress policy. Server errors and
timeouts raise `TryAgain`, and the task (media.tasks) retries with backoff. Files over
Meta's own limit for the type, or whose bytes are not what the message says, are refused
with the reason kept on the attachment and logged; the message itself is always kept.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

import filetype
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots.models import Chatbot
from config import http
from media.models import Attachment, MediaFile

logger = logging.getLogger(__name__)

# Meta's limits per type (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types):
# audio and video 16 MB, documents 100 MB, images 5 MB, stickers 500 KB (animated; 100 KB
# static). Nothing larger can come from WhatsApp, so a larger answer is refused unread.
MB = 1024 * 1024
SIZE_LIMITS = {
    "audio": 16 * MB,
    "video": 16 * MB,
    "document": 100 * MB,
    "image": 5 * MB,
    "sticker": 500 * 1024,
}
# What the bytes must be for each message type (sniffed with `filetype`, from magic numbers).
FAMILIES = {
    "image": ("image/",),
    "sticker": ("image/webp",),
    "audio": ("audio/", "video/ogg", "video/mp4", "video/3gpp"),  # voice notes: OGG/Opus
    "video": ("video/",),
}
EXECUTABLES = ("application/x-executable", "application/x-msdownload", "application/x-elf")
LINK_SALT = "media.file"
EXPIRED = (401, 403, 404, 410)


# Code above this app that wants to know when a file was stored (the assistant transcribes
# voice notes: chatbots.ai.transcribe), registered from an AppConfig.ready().
_on_file_stored: list = []


def register_on_file_stored(hook) -> None:
    """Call `hook(attachment)` when an attachment's download ended (in the task): stored
    (`attachment.file` set), or refused or failed for good (`file` None)."""
    if hook not in _on_file_stored:
        _on_file_stored.append(hook)


# How a gateway other than Meta hands a customer's file by its id (Evolution:
# chatbots.providers.evolution_instance.media_fetch), registered from an AppConfig.ready():
# `fetch(chatbot, *, media_id, max_bytes) -> (bytes, declared MIME type)`, raising
# config.http's errors (a retryable one is tried again, any other refuses the file).
_fetchers: dict = {}


def register_fetcher(provider: str, fetch) -> None:
    _fetchers[provider] = fetch


class TryAgain(Exception):
    """A transient failure (5xx, timeout, refused connection): the task retries."""


class Refused(Exception):
    """The file will never be stored: too large, or not what the message says."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    declared_type: str


def _graph(chatbot: Chatbot, path: str) -> str:
    base = settings.WHATSAPP_GRAPH_API_URL.rstrip("/")
    return f"{base}/{settings.WHATSAPP_GRAPH_API_VERSION}/{path}"


def _call(url: str, *, token: str, max_bytes: int) -> http.HTTPResponse:
    try:
        return http.request(
            "GET", url, headers={"Authorization": f"Bearer {token}"}, max_bytes=max_bytes
        )
    except http.HTTPTooLarge as exc:
        raise Refused(_("Arquivo maior que o limite do WhatsApp para o tipo.")) from exc
    except http.HTTPError as exc:
        raise TryAgain(str(exc)) from exc


def _meta_fetch(chatbot: Chatbot, attachment: Attachment, limit: int) -> Fetched:
    token = chatbot.access_token
    for _round in range(2):  # the second time: the first URL had expired
        info = _call(_graph(chatbot, attachment.provider_media_id), token=token, max_bytes=MB)
        if info.status_code >= 500:
            raise TryAgain(f"media lookup answered {info.status_code}")
        if not info.ok:
            raise Refused(
                _("O WhatsApp não tem mais este arquivo (%(status)s).")
                % {"status": info.status_code}
            )
        record = info.json()
        size = int(record.get("file_size") or 0)
        if size > limit:
            raise Refused(
                _("Arquivo de %(size)d bytes, acima do limite de %(limit)d.")
                % {"size": size, "limit": limit}
            )
        answer = _call(str(record.get("url") or ""), token=token, max_bytes=limit)
        if answer.ok:
            return Fetched(answer.content, str(record.get("mime_type") or ""))
        if answer.status_code >= 500:
            raise TryAgain(f"media download answered {answer.status_code}")
        if answer.status_code not in EXPIRED:
            raise Refused(
                _("O servidor de mídia recusou o download (%(status)s).")
                % {"status": answer.status_code}
            )
    raise TryAgain("media URL expired twice")


def _gateway_errors(exc: http.HTTPError) -> Exception:
    if isinstance(exc, http.HTTPTooLarge):
        return Refused(_("Arquivo maior que o limite do WhatsApp para o tipo."))
    if getattr(exc, "retryable", True):  # timeouts, refused connections, 5xx, 429
        return TryAgain(str(exc))
    if isinstance(exc, http.HTTPStatusError):
        return Refused(
            _("O servidor de mídia recusou o download (%(status)s).")
            % {"status": exc.response.status_code}
        )
    return Refused(str(exc))  # the egress policy's own words (pt-BR)


def _gateway_fetch(chatbot: Chatbot, attachment: Attachment, limit: int) -> Fetched:
    try:
        content, declared = _fetchers[chatbot.provider](
            chatbot, media_id=attachment.provider_media_id, max_bytes=limit
        )
    except http.HTTPError as exc:
        raise _gateway_errors(exc) from exc
    return Fetched(content, declared)


def _link_fetch(attachment: Attachment, limit: int) -> Fetched:
    # Whaticket hands a link on the business's own server: a tenant URL, under the egress
    # policy (config/egress.py).
    try:
        got = http.download(attachment.url, max_bytes=limit)
    except http.HTTPError as exc:
        raise _gateway_errors(exc) from exc
    return Fetched(got.content, got.content_type)


def sniffed_type(kind: str, content: bytes, declared: str) -> str:
    """The MIME type the bytes show, refused when they are not what a `kind` message carries."""
    guess = filetype.guess(content)
    mime = guess.mime if guess else ""
    if kind in FAMILIES:
        if not mime.startswith(FAMILIES[kind]):
            raise Refused(
                _("O conteúdo (%(mime)s) não é do tipo da mensagem (%(kind)s).")
                % {"mime": mime or _("desconhecido"), "kind": kind}
            )
        return mime
    if mime in EXECUTABLES:
        raise Refused(_("Arquivos executáveis não são guardados."))
    if mime:
        return mime
    # Plain text, CSV and the like have no magic number: keep the declared text type only.
    return declared if declared.startswith("text/") else "application/octet-stream"


def media_file_store(*, tenant_id: int, content: bytes, content_type: str) -> MediaFile:
    """The tenant's stored file with these bytes, saved once per content (sha256)."""
    digest = hashlib.sha256(content).hexdigest()
    found = MediaFile.objects.filter(tenant_id=tenant_id, sha256=digest).first()
    if found is not None:
        return found
    ext = filetype.get_type(mime=content_type)
    name = f"media/{tenant_id}/{digest[:2]}/{digest}" + (f".{ext.extension}" if ext else "")
    saved = default_storage.save(name, ContentFile(content))
    try:
        with transaction.atomic():
            return MediaFile.objects.create(
                tenant_id=tenant_id,
                sha256=digest,
                content_type=content_type,
                size=len(content),
                file=saved,
            )
    except IntegrityError:  # another worker stored the same bytes meanwhile
        if saved != name:
            default_storage.delete(saved)
        return MediaFile.objects.get(tenant_id=tenant_id, sha256=digest)


def attachment_download(*, attachment_id: int) -> Attachment:
    """Download one pending attachment and store its file. Raises TryAgain to be retried."""
    attachment = Attachment.objects.select_related("message__conversation__chatbot").get(
        pk=attachment_id
    )
    if attachment.status != Attachment.Status.PENDING:
        return attachment
    Attachment.objects.filter(pk=attachment.pk).update(attempts=attachment.attempts + 1)
    chatbot = attachment.message.conversation.chatbot
    limit = SIZE_LIMITS.get(attachment.kind, SIZE_LIMITS["document"])
    try:
        if chatbot.provider == "meta" and attachment.provider_media_id:
            fetched = _meta_fetch(chatbot, attachment, limit)
        elif attachment.provider_media_id and chatbot.provider in _fetchers:
            fetched = _gateway_fetch(chatbot, attachment, limit)
        elif attachment.url:
            fetched = _link_fetch(attachment, limit)
        else:
            raise Refused(_("A mensagem não traz como baixar o arquivo."))
        if len(fetched.content) > limit:
            raise Refused(_("Arquivo maior que o limite do WhatsApp para o tipo."))
        mime = sniffed_type(attachment.kind, fetched.content, fetched.declared_type)
    except Refused as exc:
        return attachment_give_up(attachment_id=attachment.pk, reason=str(exc), refused=True)
    stored = media_file_store(
        tenant_id=attachment.tenant_id, content=fetched.content, content_type=mime
    )
    Attachment.objects.filter(pk=attachment.pk).update(
        file=stored, status=Attachment.Status.STORED, reason=""
    )
    attachment.refresh_from_db()
    _ended(attachment)
    return attachment


def _ended(attachment: Attachment) -> None:
    for hook in _on_file_stored:
        try:
            hook(attachment)
        except Exception:
            logger.exception("file-stored hook failed", extra={"attachment_id": attachment.pk})


# Past this, a pending download lost its task (the longest retry wait is 320 s).
STALE_AFTER = timedelta(minutes=10)


def stale_downloads(*, limit: int = 500) -> list[int]:
    cutoff = timezone.now() - STALE_AFTER
    return list(
        Attachment.objects.filter(status=Attachment.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def attachment_attempts(*, attachment_id: int) -> int:
    return Attachment.objects.filter(pk=attachment_id).values_list("attempts", flat=True)[0]


def attachment_give_up(*, attachment_id: int, reason: str, refused: bool = False) -> Attachment:
    status = Attachment.Status.REFUSED if refused else Attachment.Status.FAILED
    Attachment.objects.filter(pk=attachment_id).update(status=status, reason=reason[:255])
    logger.warning("media not stored", extra={"attachment_id": attachment_id, "reason": reason})
    attachment = Attachment.objects.select_related("message__conversation__chatbot").get(
        pk=attachment_id
    )
    _ended(attachment)
    return attachment


# --- Private links -----------------------------------------------------------------------


def media_link(media_file: MediaFile) -> str:
    """A URL staff of the file's tenant can open for MEDIA_LINK_SECONDS, nobody else."""
    token = signing.dumps({"f": media_file.pk, "t": media_file.tenant_id}, salt=LINK_SALT)
    return reverse("media-file", args=[token])


def media_from_link(token: str) -> MediaFile | None:
    """The file a link names, or None when the link is forged or past its lifetime."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=settings.MEDIA_LINK_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    return MediaFile.objects.filter(pk=data.get("f"), tenant_id=data.get("t")).first()


# --- Deleting ----------------------------------------------------------------------------


def files_of_messages(message_ids) -> list[int]:
    return list(
        Attachment.objects.filter(message_id__in=message_ids, file__isnull=False)
        .values_list("file_id", flat=True)
        .distinct()
    )


def media_files_prune(file_ids) -> int:
    """Delete the files no message uses any more (after their messages were deleted): the
    rows now, the stored bytes when the transaction commits."""
    orphans = MediaFile.objects.filter(pk__in=list(file_ids), attachments__isnull=True)
    names = list(orphans.values_list("file", flat=True))
    deleted = orphans.delete()[0]

    def remove() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(remove)
    return deleted


def attachments_delete(message_ids) -> int:
    """Forget the files of these messages (erasure, retention): their attachments now, and
    each file no other message uses, row and stored bytes."""
    file_ids = files_of_messages(message_ids)
    deleted = Attachment.objects.filter(message_id__in=list(message_ids)).delete()[0]
    media_files_prune(file_ids)
    return deleted


def files_for_export(message_ids) -> list[dict]:
    """What the LGPD export lists of a person's files; `arquivo` is the name in the ZIP."""
    rows = (
        Attachment.objects.filter(message_id__in=list(message_ids), file__isnull=False)
        .select_related("file")
        .order_by("message_id")
    )
    return [
        {
            "message_id": a.message_id,
            "tipo": a.kind,
            "nome": a.filename,
            "content_type": a.file.content_type,
            "tamanho": a.file.size,
            "sha256": a.file.sha256,
            "arquivo": f"arquivos/{a.message_id}-{a.file.file.name.rsplit('/', 1)[-1]}",
        }
        for a in rows
    ]


def attachment_bytes(*, message_id: int) -> bytes | None:
    """The stored bytes of a message's file (None when it has none, or they are gone)."""
    found = (
        Attachment.objects.filter(message_id=message_id, file__isnull=False)
        .select_related("file")
        .first()
    )
    if found is None or not default_storage.exists(found.file.file.name):
        return None
    with default_storage.open(found.file.file.name, "rb") as f:
        return f.read()
