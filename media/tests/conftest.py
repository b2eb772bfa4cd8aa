"""Fixtures of the media tests: a Meta bot on the fake Graph API, files kept in a
throwaway directory (the filesystem storage backend), and real-shaped media messages."""

from __future__ import annotations

import pytest

from staff.tests.browser import browser, live_asgi, new_page  # noqa: F401 (fixtures)
from tests import meta
from tests.conversation import next_timestamp
from tests.factories import ChatbotFactory, StepFactory
from tests.fakes.s3 import _fake_s3_server, fake_s3  # noqa: F401 (fixtures)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 300
OGG = b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x1eOpusHead" + b"\x00" * 400
PDF = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 40


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }
    return tmp_path / "files"


@pytest.fixture
def bot(tenant, fake_graph):
    bot = ChatbotFactory(tenant=tenant, name="Loja", phone_number_id="1234567")
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.generic.EndHandler",
        config={"text": "Recebido, obrigado!"},
    )
    return bot


def media_message(bot, kind: str, media_id: str, *, sender="5511987654321", **extra) -> dict:
    body = {"id": media_id, "mime_type": extra.pop("mime_type", "image/jpeg"), **extra}
    return meta.envelope(
        bot.phone_number_id,
        contacts=[{"profile": {"name": "Maria"}, "wa_id": sender}],
        messages=[
            {
                "from": sender,
                "id": meta.wamid(),
                "timestamp": str(next_timestamp()),
                "type": kind,
                kind: body,
            }
        ],
    )


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
