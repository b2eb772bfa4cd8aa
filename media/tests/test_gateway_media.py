"""Files customers send through Evolution API and Whaticket end as stored files too: each
against its fake server on 127.0.0.1."""

from __future__ import annotations

import pytest

from chatbots.models import Message
from media.models import Attachment
from media.tests.conftest import JPEG, OGG, PDF, stored_files
from tests.conversation import next_timestamp
from tests.factories import StepFactory
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt


def _ends_with_a_thank_you(bot) -> None:
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.generic.EndHandler",
        config={"text": "Recebido, obrigado!"},
    )


def _latest_attachment(chat) -> Attachment:
    message = Message.objects.filter(
        conversation=chat.conversation, direction=Message.Direction.IN
    ).latest("id")
    return Attachment.objects.select_related("file").get(message=message)


# --- Evolution API ---------------------------------------------------------------------------


@pytest.fixture
def evo_bot(tenant, fake_evolution):
    bot = evo.evolution_bot(tenant, fake_evolution)
    _ends_with_a_thank_you(bot)
    return bot


def _evo_media(bot, key: str, body: dict, msg_id: str) -> dict:
    return evo.upsert(
        instance=bot.provider_config["instance"],
        message={key: {"url": "https://mmg.whatsapp.net/o1/v/t62/abc.enc", **body}},
        msg_id=msg_id,
        ts=next_timestamp(),
    )


def test_evolution_photo_voice_note_and_pdf_end_as_stored_files(
    chat_with, evo_bot, fake_evolution, media_root
):
    fake_evolution.add_media("3EB0PHOTO", JPEG, "image/jpeg")
    fake_evolution.add_media("3EB0VOICE", OGG, "audio/ogg; codecs=opus")
    fake_evolution.add_media("3EB0PDF", PDF, "application/pdf")
    chat = chat_with(evo_bot)

    chat.post(_evo_media(evo_bot, "imageMessage", {"mimetype": "image/jpeg"}, "3EB0PHOTO"))
    photo = _latest_attachment(chat)
    chat.post(
        _evo_media(
            evo_bot,
            "audioMessage",
            {"mimetype": "audio/ogg; codecs=opus", "ptt": True, "seconds": 4},
            "3EB0VOICE",
        )
    )
    voice = _latest_attachment(chat)
    chat.post(
        _evo_media(
            evo_bot,
            "documentMessage",
            {"mimetype": "application/pdf", "fileName": "comprovante-pix.pdf"},
            "3EB0PDF",
        )
    )
    pdf = _latest_attachment(chat)

    assert [(a.status, a.file.content_type, a.file.size) for a in (photo, voice, pdf)] == [
        ("stored", "image/jpeg", len(JPEG)),
        ("stored", "audio/ogg", len(OGG)),
        ("stored", "application/pdf", len(PDF)),
    ]
    assert voice.voice and pdf.filename == "comprovante-pix.pdf"
    assert sorted(p.read_bytes() for p in stored_files(media_root)) == sorted([JPEG, OGG, PDF])
    # Asked by message id with the bot's API key; the encrypted WhatsApp CDN link never.
    asks = [r for r in fake_evolution.requests if "getBase64FromMediaMessage" in r.path]
    assert [r.json["message"]["key"]["id"] for r in asks] == ["3EB0PHOTO", "3EB0VOICE", "3EB0PDF"]
    assert all(r.headers["apikey"] == evo.APIKEY for r in asks)
    assert [body["text"] for body in chat.sent] == ["Recebido, obrigado!"]


def test_an_evolution_server_error_is_retried(chat_with, evo_bot, fake_evolution):
    fake_evolution.add_media("3EB0RETRY", JPEG, "image/jpeg")
    fake_evolution.respond_next(status=502, body="<html>Bad Gateway</html>")
    chat = chat_with(evo_bot)
    chat.post(_evo_media(evo_bot, "imageMessage", {"mimetype": "image/jpeg"}, "3EB0RETRY"))

    attachment = _latest_attachment(chat)
    asks = [r.status for r in fake_evolution.requests if "getBase64" in r.path]
    assert asks == [502, 201]
    assert (attachment.status, attachment.attempts, attachment.file.size) == (
        "stored",
        2,
        len(JPEG),
    )


def test_a_file_evolution_no_longer_has_is_refused_and_the_message_kept(
    chat_with, evo_bot, fake_evolution, media_root
):
    chat = chat_with(evo_bot)
    chat.post(
        _evo_media(
            evo_bot, "imageMessage", {"mimetype": "image/jpeg", "caption": "meu router"}, "3EB0GONE"
        )
    )

    attachment = _latest_attachment(chat)
    assert attachment.status == "refused"
    assert "400" in attachment.reason
    assert attachment.message.text == "meu router"
    assert stored_files(media_root) == []


def test_an_evolution_file_over_the_limit_is_refused(chat_with, evo_bot, fake_evolution):
    from media.services import SIZE_LIMITS

    fake_evolution.add_media("3EB0BIG", b"RIFF" + b"\x00" * SIZE_LIMITS["sticker"], "image/webp")
    chat = chat_with(evo_bot)
    chat.post(_evo_media(evo_bot, "stickerMessage", {"mimetype": "image/webp"}, "3EB0BIG"))

    attachment = _latest_attachment(chat)
    assert attachment.status == "refused"
    assert "limite" in attachment.reason


# --- Whaticket -------------------------------------------------------------------------------


@pytest.fixture
def wt_bot(tenant, fake_whaticket):
    bot = wt.whaticket_bot(tenant, fake_whaticket)
    _ends_with_a_thank_you(bot)
    return bot


def _wt_media(url: str, media_type: str, body: str = "", message: dict | None = None) -> dict:
    payload = {
        "id": wt.new_id(),
        "number": "5511987654321",
        "body": body,
        "mediaUrl": url,
        "mediaType": media_type,
    }
    if message is not None:
        payload["message"] = message
    return payload


def test_whaticket_files_are_downloaded_from_its_media_url(
    chat_with, wt_bot, fake_files, media_root
):
    photo_url = fake_files.add("1701-foto.jpg", JPEG, "image/jpeg")
    pdf_url = fake_files.add("1702-boleto.pdf", PDF, "application/pdf")
    chat = chat_with(wt_bot)

    chat.post(_wt_media(photo_url, "image", message={"imageMessage": {"caption": "o roteador"}}))
    photo = _latest_attachment(chat)
    chat.post(_wt_media(pdf_url, "application", body="boleto.pdf"))
    pdf = _latest_attachment(chat)

    assert [(a.kind, a.status, a.file.content_type, a.file.size) for a in (photo, pdf)] == [
        ("image", "stored", "image/jpeg", len(JPEG)),
        ("document", "stored", "application/pdf", len(PDF)),
    ]
    assert photo.message.text == "o roteador" and pdf.filename == "boleto.pdf"
    assert sorted(p.read_bytes() for p in stored_files(media_root)) == sorted([JPEG, PDF])


def test_a_whaticket_link_that_is_gone_is_refused_and_the_message_kept(
    chat_with, wt_bot, fake_files
):
    chat = chat_with(wt_bot)
    chat.post(_wt_media(f"{fake_files.url}/files/apagado.jpg", "image", body="foto"))

    attachment = _latest_attachment(chat)
    assert attachment.status == "refused"
    assert "404" in attachment.reason
    assert attachment.message.type == "image"
