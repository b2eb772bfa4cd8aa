"""Files the business sends: uploaded to Meta's media endpoint and sent by id; through
Evolution API and Whaticket, the stored file itself (`Media.stored`, the gateway sends its
bytes), so neither needs a public link to our private storage.

Meta (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#upload-media):
`POST /{phone-number-id}/media` as multipart (`messaging_product=whatsapp`, `type`, `file`)
answers `{"id": ...}`; a message then names the media by that id, valid for 30 days. Sending
by id instead of a link means Meta never fetches from our (private) storage. The file is
stored like a customer's (media.services), so the history shows what staff sent.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import Media
from config import http
from inbox import services as inbox_services
from media.models import Attachment, MediaFile
from media.services import SIZE_LIMITS, Refused, media_file_store, sniffed_type


class UploadFailed(inbox_services.InboxError):
    pass


# They take the file in the send call itself (chatbots.providers.evolution / .whaticket).
GATEWAYS_TAKING_FILES = ("evolution", "whaticket")


def kind_of(content_type: str) -> str:
    """The WhatsApp message type that carries a file of this MIME type."""
    family = content_type.split("/")[0]
    if content_type == "image/webp":
        return "image"
    return family if family in ("image", "audio", "video") else "document"


def media_upload(chatbot: Chatbot, *, content: bytes, content_type: str, filename: str) -> str:
    """Upload a file to Meta for `chatbot`'s number; return its media id."""
    if chatbot.provider != "meta" or not chatbot.phone_number_id or not chatbot.access_token:
        raise UploadFailed(
            _(
                "Envio de arquivos pela API oficial do WhatsApp (Meta) com o número "
                "configurado, pela Evolution API ou pelo Whaticket."
            ),
            code="media_provider",
        )
    url = (
        f"{settings.WHATSAPP_GRAPH_API_URL.rstrip('/')}/"
        f"{settings.WHATSAPP_GRAPH_API_VERSION}/{chatbot.phone_number_id}/media"
    )
    try:
        answer = http.request(
            "POST",
            url,
            data={"messaging_product": "whatsapp", "type": content_type},
            files={"file": (filename, content, content_type)},
            headers={"Authorization": f"Bearer {chatbot.access_token}"},
        )
    except http.HTTPError as exc:
        raise UploadFailed(
            _("O WhatsApp não respondeu ao envio do arquivo."), code="media_upload"
        ) from exc
    media_id = str((answer.json() or {}).get("id") or "") if answer.ok else ""
    if not media_id:
        raise UploadFailed(
            _("O WhatsApp recusou o arquivo (%(status)s).") % {"status": answer.status_code},
            code="media_upload",
        )
    return media_id


def media_message_for(
    chatbot: Chatbot, media_file: MediaFile, *, filename: str = "", caption: str = ""
) -> Media:
    """A Media message sending a stored file by Meta media id (uploaded now)."""
    with media_file.file.open("rb") as f:
        content = f.read()
    kind = kind_of(media_file.content_type)
    name = filename or media_file.file.name.rsplit("/", 1)[-1]
    media_id = media_upload(
        chatbot, content=content, content_type=media_file.content_type, filename=name
    )
    return Media(
        media_type=kind,
        media_id=media_id,
        caption=caption if kind in ("image", "video", "document") else "",
        filename=name if kind == "document" else "",
    )


def staff_send_file(
    conversation: Conversation, by, *, content: bytes, filename: str, caption: str = ""
) -> Message:
    """A file attached by staff in the inbox: checked, stored, uploaded, sent by id."""
    try:
        guessed = sniffed_type("document", content, "")
        kind = kind_of(guessed)
        if len(content) > SIZE_LIMITS[kind]:
            raise Refused(_("Arquivo maior que o limite do WhatsApp para o tipo."))
    except Refused as exc:
        raise UploadFailed(str(exc), code="media_refused") from exc
    stored = media_file_store(
        tenant_id=conversation.tenant_id, content=content, content_type=guessed
    )
    chatbot = conversation.chatbot
    if chatbot.provider in GATEWAYS_TAKING_FILES:
        message = Media(
            media_type=kind,
            stored=stored.file.name,
            caption=caption if kind in ("image", "video", "document") else "",
            filename=filename[:255] if kind == "document" else "",
        )
    else:
        message = media_message_for(chatbot, stored, filename=filename, caption=caption)
    row = inbox_services.staff_reply(conversation, by, media=message)
    Attachment.objects.create(
        tenant_id=conversation.tenant_id,
        message=row,
        kind=kind,
        provider_media_id=message.media_id,
        filename=filename[:255],
        status=Attachment.Status.STORED,
        file=stored,
    )
    return row
