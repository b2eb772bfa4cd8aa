"""The staff conversation in a real browser (Playwright + Debian's chromium, the real ASGI
server): a photo, an audio and a PDF the customer sent through the Meta webhook are shown
as a picture, a player that loads the sound and a download with name and size, all through
the signed links."""

from __future__ import annotations

import io
import math
import struct
import time
import wave
import zlib

import pytest
from django.conf import settings
from django.shortcuts import resolve_url

from billing.models import Membership
from chatbots.models import Conversation
from media.models import Attachment
from media.tests.conftest import PDF, media_message
from staff.tests.browser import login, shot
from tests.factories import ChatbotFactory, MembershipFactory, StepFactory

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = "5511987654321"


def png(width: int = 320, height: int = 200) -> bytes:
    """A real PNG: a blue-to-green sky over a grey box with three lights (a router)."""
    rows = []
    for y in range(height):
        line = bytearray([0])
        for x in range(width):
            pixel = (40, 90 + y // 3, 200 - y // 2)
            if 60 <= x < 260 and 110 <= y < 170:
                pixel = (70, 70, 80)
                if 125 <= y < 135 and any(abs(x - cx) < 6 for cx in (100, 140, 180)):
                    pixel = (40, 230, 90)
            line += bytes(pixel)
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A real WAV: a 440 Hz tone."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
            for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return out.getvalue()


@pytest.fixture
def shop(fake_graph, celery_eager):
    owner = MembershipFactory(role=Membership.Role.OWNER, user__first_name="Ana")
    bot = ChatbotFactory(tenant=owner.tenant, name="Loja", phone_number_id="1234567")
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.generic.EndHandler",
        config={"text": "Recebido, obrigado!"},
    )
    return bot, owner.user


def _wait_stored(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while Attachment.objects.filter(status="stored").count() < count:
        assert time.monotonic() < deadline, list(Attachment.objects.values("status", "reason"))
        time.sleep(0.05)


def test_staff_see_the_photo_hear_the_audio_and_get_the_pdf(live_asgi, new_page, shop, fake_graph):
    bot, owner = shop
    photo, audio = png(), wav()
    fake_graph.add_media("5101", photo, "image/png")
    fake_graph.add_media("5102", audio, "audio/wav")
    fake_graph.add_media("5103", PDF, "application/pdf")
    for payload in (
        media_message(bot, "image", "5101", mime_type="image/png", caption="o roteador"),
        media_message(bot, "audio", "5102", mime_type="audio/wav"),
        media_message(
            bot, "document", "5103", mime_type="application/pdf", filename="comprovante-pix.pdf"
        ),
    ):
        assert live_asgi.post_webhook(payload, bot.app_secret) == 200
    _wait_stored(3)
    conversation = Conversation.objects.get(cliente__telefone=CUSTOMER)

    page = new_page(width=1100, height=1000)
    login(page, owner)
    page.goto(f"/atendimento/conversas/{conversation.pk}/")
    # Live: the socket opened and the history was fetched again (what changed meanwhile).
    page.wait_for_selector("body[data-live=open]")
    page.wait_for_load_state("networkidle")
    page.evaluate("document.getElementById('history').scrollTop = 0")

    # The photo is drawn (the browser decoded the bytes the signed link served).
    thumb = page.locator("img.thumb")
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('img.thumb').naturalWidth > 0")
    assert thumb.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [320, 200]
    assert page.locator("text=o roteador").is_visible()

    # The audio player loads the sound: about one second.
    player = page.locator("audio")
    player.scroll_into_view_if_needed()
    player.evaluate("a => { a.preload = 'auto'; a.load(); }")
    page.wait_for_function("document.querySelector('audio').readyState >= 1")
    assert abs(player.evaluate("a => a.duration") - 1.0) < 0.05

    # The PDF: its name and size, and the link downloads the file.
    document = page.locator(".media-document a")
    assert document.inner_text().strip().endswith("comprovante-pix.pdf")
    assert "bytes" in page.locator(".media-document").inner_text()
    answer = page.request.get(document.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.body() == PDF
    page.evaluate("document.getElementById('history').scrollTop = 0")
    shot(page, "atendimento-arquivos")

    # Another browser, not signed in, cannot open the photo's link.
    stranger = new_page()
    denied = stranger.request.get(thumb.get_attribute("src"), max_redirects=0)
    assert denied.status == 302
    assert denied.headers["location"].startswith(resolve_url(settings.LOGIN_URL))
