"""Voice notes understood: the stored audio goes to Gemini, and its transcription comes back
in as the customer's next message, as if typed, so the flow answers it like any text.

The order of things: the webhook stores the audio message and the VoiceNote interceptor
(chatbots.interceptors.voice) keeps the step quiet; media downloads the file on its own
job and calls `attachment_stored`; this queues the model call on the `llm` queue; the
transcription is stored as an inbound event of its own (external id `<wamid>.transcricao`,
so a task run twice stores it once) and goes through the same pipeline as a typed message.
Its Message row carries `data.transcription_of` (the voice note's id): the history shows it
as a transcription. Tokens are metered like every other model call.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from django.db import transaction
from django.utils.translation import gettext as _

from chatbots import inbound
from chatbots.ai import client
from chatbots.ai.assistant import model_usable
from chatbots.models import Message
from chatbots.outbox import queue
from chatbots.wire import InboundMessage, Text
from media.models import Attachment
from media.services import attachment_bytes

logger = logging.getLogger(__name__)

SYSTEM = (
    "Você transcreve mensagens de voz de clientes brasileiros no WhatsApp. Devolva só o que "
    "a pessoa disse, em português, sem comentar nem responder."
)
SCHEMA = {
    "type": "OBJECT",
    "properties": {"transcription": {"type": "STRING"}},
    "required": ["transcription"],
}
SUFFIX = ".transcricao"


def is_voice(attachment: Attachment) -> bool:
    return attachment.kind == "audio"


def attachment_stored(attachment: Attachment) -> None:
    """media's hook: a download ended; a voice note of a tenant with AI gets transcribed,
    or, when its file could not be kept, the customer is asked to type (the VoiceNote
    interceptor kept the step quiet, waiting for the transcription)."""
    if not is_voice(attachment):
        return
    conversation = attachment.message.conversation
    if not model_usable(conversation.chatbot.tenant):
        return
    if attachment.file_id is None:
        _ask_to_type(conversation)
        return
    from chatbots.ai import tasks

    pk = attachment.pk
    transaction.on_commit(lambda: tasks.transcribe_llm.delay(pk))


def voice_note_transcribe(*, attachment_id: int) -> str:
    attachment = (
        Attachment.objects.select_related(
            "file", "message__conversation__chatbot__tenant", "message__conversation__cliente"
        )
        .filter(pk=attachment_id)
        .first()
    )
    if attachment is None or attachment.file is None:
        return ""
    message = attachment.message
    conversation = message.conversation
    chatbot = conversation.chatbot
    content = attachment_bytes(message_id=message.pk)
    if content is None or not model_usable(chatbot.tenant):
        return ""
    try:
        reply = client.generate_json(
            system=SYSTEM,
            turns=[("user", "Transcreva este áudio.")],
            schema=SCHEMA,
            audio=(content, attachment.file.content_type),
            temperature=0.0,
        )
    except client.ModelError as exc:
        _meter(chatbot.tenant_id, exc.tokens)
        _ask_to_type(conversation)
        return ""
    _meter(chatbot.tenant_id, reply.tokens)
    text = str(reply.data.get("transcription") or "").strip()
    if not text:
        _ask_to_type(conversation)
        return ""
    original = InboundMessage.from_dict(message.payload)
    typed = replace(
        original,
        external_id=f"{original.external_id}{SUFFIX}",
        type="text",
        text=text,
        reply_id="",
        data={"transcription_of": message.pk},
    )
    inbound.store_events(events=[(chatbot, typed, {"transcription_of": message.pk})])
    return text


def _meter(tenant_id: int, tokens: int) -> None:
    if tokens > 0:
        from billing.metering import record

        record(tenant_id=tenant_id, ai_tokens=tokens)


def cannot_listen_text(chatbot) -> str:
    return (chatbot.options or {}).get("voice_note_text") or _(
        "Desculpe, ainda não consigo ouvir áudios. Pode escrever sua mensagem?"
    )


def _ask_to_type(conversation) -> None:
    # The model could not help: the customer still gets the one answer, never silence.
    with transaction.atomic():
        queue.queue_replies(
            conversation=conversation,
            messages=[Text(body=cannot_listen_text(conversation.chatbot))],
        )


__all__ = ["Message", "attachment_stored", "cannot_listen_text", "voice_note_transcribe"]
