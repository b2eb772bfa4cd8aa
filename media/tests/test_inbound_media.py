"""Files customers send through the Meta webhook end as stored files of the tenant."""

from __future__ import annotations

import logging

from chatbots.models import Message
from media.models import Attachment, MediaFile
from media.services import SIZE_LIMITS
from media.tests.conftest import JPEG, OGG, PDF, media_message, stored_files


def _attachment(chat) -> Attachment:
    message = Message.objects.filter(
        conversation=chat.conversation, direction=Message.Direction.IN
    ).latest("id")
    return Attachment.objects.select_related("file").get(message=message)


def test_a_photo_a_voice_note_and_a_pdf_end_as_stored_files(chat_with, bot, fake_graph, media_root):
    fake_graph.add_media("1001", JPEG, "image/jpeg")
    fake_graph.add_media("1002", OGG, "audio/ogg; codecs=opus")
    fake_graph.add_media("1003", PDF, "application/pdf")
    chat = chat_with(bot)

    chat.post(media_message(bot, "image", "1001", caption="roteador quebrado"))
    photo = _attachment(chat)
    chat.post(media_message(bot, "audio", "1002", mime_type="audio/ogg", voice=True))
    voice = _attachment(chat)
    chat.post(
        media_message(bot, "document", "1003", mime_type="application/pdf", filename="pix.pdf")
    )
    pdf = _attachment(chat)

    assert [(a.status, a.file.content_type, a.file.size) for a in (photo, voice, pdf)] == [
        ("stored", "image/jpeg", len(JPEG)),
        ("stored", "audio/ogg", len(OGG)),
        ("stored", "application/pdf", len(PDF)),
    ]
    assert voice.voice and pdf.filename == "pix.pdf"
    on_disk = sorted(p.read_bytes() for p in stored_files(media_root))
    assert on_disk == sorted([JPEG, OGG, PDF])
    # Every download carried the bot's token, never anything else.
    gets = [r for r in fake_graph.requests if r.method == "GET"]
    assert gets and all(r.headers["Authorization"] == "Bearer test-token" for r in gets)
    # The bot answered as usual.
    assert chat.texts == ["Recebido, obrigado!"]


def test_the_same_file_twice_is_stored_once(chat_with, bot, fake_graph, media_root):
    fake_graph.add_media("2001", JPEG, "image/jpeg")
    fake_graph.add_media("2002", JPEG, "image/jpeg")
    chat = chat_with(bot)
    chat.post(media_message(bot, "image", "2001"))
    chat.post(media_message(bot, "image", "2002"))

    assert Attachment.objects.filter(status="stored").count() == 2
    assert MediaFile.objects.count() == 1
    assert len(stored_files(media_root)) == 1


def test_a_server_error_from_the_media_server_is_retried(chat_with, bot, fake_graph):
    fake_graph.add_media("3001", JPEG, "image/jpeg")
    from media import services

    calls = []
    original = services._call

    def flaky(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:  # the first lookup of the file meets a proxy's 503 page
            fake_graph.respond_next(status=503, body="<html>Service Unavailable</html>")
        return original(url, **kwargs)

    services._call = flaky
    try:
        chat = chat_with(bot)
        chat.post(media_message(bot, "image", "3001"))
    finally:
        services._call = original
    attachment = _attachment(chat)
    assert [r.status for r in fake_graph.requests if r.path.endswith("/3001")] == [503, 200]
    assert attachment.status == "stored"
    assert attachment.attempts == 2
    assert attachment.file.size == len(JPEG)


def test_an_expired_link_is_fetched_again_by_id(chat_with, bot, fake_graph):
    fake_graph.add_media("4001", PDF, "application/pdf")
    from media import services

    original = services._call

    def expire_after_lookup(url, **kwargs):
        answer = original(url, **kwargs)
        if "/media-files/" not in url and not getattr(expire_after_lookup, "done", False):
            expire_after_lookup.done = True
            fake_graph.expire_media("4001")  # the URL just given is already stale
        return answer

    services._call = expire_after_lookup
    try:
        chat = chat_with(bot)
        chat.post(media_message(bot, "document", "4001", mime_type="application/pdf"))
    finally:
        services._call = original
    attachment = _attachment(chat)
    assert attachment.status == "stored"
    lookups = [r.path for r in fake_graph.requests if r.path.endswith("/4001")]
    downloads = [(r.path, r.status) for r in fake_graph.requests if "/media-files/" in r.path]
    assert len(lookups) == 2
    assert [status for _path, status in downloads] == [404, 200]


def test_a_file_over_the_limit_is_refused_and_the_message_kept(
    chat_with, bot, fake_graph, caplog, media_root
):
    too_big = JPEG + b"\x00" * SIZE_LIMITS["image"]
    fake_graph.add_media("5001", too_big, "image/jpeg")
    chat = chat_with(bot)
    with caplog.at_level(logging.WARNING, logger="media.services"):
        chat.post(media_message(bot, "image", "5001", caption="foto grande"))

    attachment = _attachment(chat)
    assert attachment.status == "refused"
    assert "limite" in attachment.reason
    assert attachment.message.text == "foto grande"
    assert any(getattr(r, "reason", "") == attachment.reason for r in caplog.records)
    assert stored_files(media_root) == []
    # Refused from Meta's declared size: the file itself was never downloaded.
    assert not [r for r in fake_graph.requests if "/media-files/" in r.path]


def test_bytes_that_are_not_what_the_message_says_are_refused(chat_with, bot, fake_graph):
    fake_graph.add_media("6001", b"MZ" + b"\x00" * 200, "image/jpeg")  # a Windows program
    chat = chat_with(bot)
    chat.post(media_message(bot, "image", "6001"))

    attachment = _attachment(chat)
    assert attachment.status == "refused"
    assert "application/x-msdownload" in attachment.reason
    assert MediaFile.objects.count() == 0


def test_a_download_whose_task_was_lost_is_queued_again_by_the_sweeper(
    client, bot, fake_graph, celery_eager, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from media import tasks
    from tests import meta

    fake_graph.add_media("9001", JPEG, "image/jpeg")
    monkeypatch.setattr(tasks.media_download, "delay", lambda pk: None)  # the broker is down
    with django_capture_on_commit_callbacks(execute=True):
        meta.post(client, media_message(bot, "image", "9001"), "test-app-secret")
    monkeypatch.undo()
    attachment = Attachment.objects.get()
    assert attachment.status == "pending"

    assert tasks.sweep_downloads() == 0  # too recent: its task may still come
    Attachment.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert tasks.sweep_downloads() == 1
    attachment.refresh_from_db()
    assert attachment.status == "stored"


def test_downloads_run_on_the_slow_worker_never_in_front_of_the_replies():
    from config.celery import app

    route = app.amqp.router.route
    assert route({}, "media.tasks.media_download", (1,), {})["queue"].name == "bulk"
    assert route({}, "chatbots.tasks.process_inbound", (1,), {})["queue"].name == "replies"
