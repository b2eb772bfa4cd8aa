"""LGPD: erasure and retention leave no file of the person in the storage; the export
carries their files."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

from django.utils import timezone

from chatbots.models import Message
from compliance.erasure import cliente_erase
from compliance.export import cliente_export, export_zip
from compliance.retention import retention_run
from media.models import Attachment, MediaFile
from media.tests.conftest import JPEG, OGG, PDF, media_message, stored_files

ANA = "5511912345678"


def _send_files(chat_with, bot, fake_graph):
    fake_graph.add_media("7001", JPEG, "image/jpeg")
    fake_graph.add_media("7002", OGG, "audio/ogg")
    maria = chat_with(bot)
    maria.post(media_message(bot, "image", "7001"))
    maria.post(media_message(bot, "audio", "7002", mime_type="audio/ogg", voice=True))
    return maria


def test_erasure_leaves_no_file_of_the_person(
    chat_with, bot, fake_graph, media_root, django_capture_on_commit_callbacks
):
    maria = _send_files(chat_with, bot, fake_graph)
    fake_graph.add_media("7003", PDF, "application/pdf")
    fake_graph.add_media("7004", JPEG, "image/jpeg")  # Ana sends the same photo as Maria
    ana = chat_with(bot, phone=ANA, name="Ana")
    ana.post(media_message(bot, "document", "7003", sender=ANA, mime_type="application/pdf"))
    ana.post(media_message(bot, "image", "7004", sender=ANA))
    assert len(stored_files(media_root)) == 3

    with django_capture_on_commit_callbacks(execute=True):
        result = cliente_erase(cliente=maria.conversation.cliente)

    assert result.counts["files"] == 2
    # Ana's PDF and her photo (the same bytes as Maria's) are still there; Maria's voice note is gone.
    assert sorted(p.read_bytes() for p in stored_files(media_root)) == sorted([JPEG, PDF])
    assert MediaFile.objects.count() == 2


def test_retention_deletes_old_files_with_the_old_texts(
    chat_with, bot, fake_graph, media_root, django_capture_on_commit_callbacks, settings
):
    _send_files(chat_with, bot, fake_graph)
    settings.RETENTION_MESSAGE_TEXT_DAYS = 30
    Message.objects.update(created_at=timezone.now() - timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=True):
        retention_run()

    assert stored_files(media_root) == []
    assert not MediaFile.objects.exists() and not Attachment.objects.exists()
    assert Message.objects.filter(direction="in").count() == 2  # the rows stay, blanked


def test_the_export_carries_the_persons_files(chat_with, bot, fake_graph):
    maria = _send_files(chat_with, bot, fake_graph)
    document = cliente_export(cliente=maria.conversation.cliente)

    (person,) = document["titular"]
    assert [(f["tipo"], f["content_type"], f["tamanho"]) for f in person["arquivos"]] == [
        ("image", "image/jpeg", len(JPEG)),
        ("audio", "audio/ogg", len(OGG)),
    ]
    archive = zipfile.ZipFile(io.BytesIO(export_zip(document)))
    names = {f["arquivo"] for f in person["arquivos"]}
    assert names <= set(archive.namelist())
    assert sorted(archive.read(n) for n in names) == sorted([JPEG, OGG])
    assert json.loads(archive.read("dados.json"))["titular"][0]["arquivos"]
