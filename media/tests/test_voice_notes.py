"""Voice notes: with Gemini on, the transcription drives the order flow as if typed; with
it off, the bot's one answer and nothing else."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import metering
from chatbots.models import Message
from media.tests.conftest import OGG, media_message
from tests.conversation import body_text, rows
from tests.factories import CategoriaFactory, ChatbotFactory, ProdutoFactory

ANA = "5511912345678"


@pytest.fixture
def pizzaria(tenant, fake_graph):
    pizzas = CategoriaFactory(tenant=tenant, nome="Pizzas", ordem=1)
    CategoriaFactory(tenant=tenant, nome="Bebidas", ordem=2)
    ProdutoFactory(categoria=pizzas, nome="Pizza Margherita", preco=Decimal("49.90"))
    return ChatbotFactory(tenant=tenant, name="Pizzaria", phone_number_id="2000001", flow="pedidos")


def _voice(bot, media_id, sender="5511987654321"):
    return media_message(bot, "audio", media_id, sender=sender, mime_type="audio/ogg", voice=True)


def test_a_voice_note_drives_the_order_flow_as_its_transcription_would(
    chat_with, pizzaria, fake_graph, fake_gemini, tenant
):
    # Ana types "pizzas": what the flow answers to the words.
    ana = chat_with(pizzaria, phone=ANA, name="Ana")
    ana.text("oi")
    typed = ana.text("pizzas")

    fake_graph.add_media("8001", OGG, "audio/ogg; codecs=opus")
    fake_gemini.reply_next({"transcription": "pizzas"})
    maria = chat_with(pizzaria)
    maria.text("oi")
    spoken = maria.post(_voice(pizzaria, "8001"))

    assert [rows(b) for b in spoken] == [rows(b) for b in typed]
    assert rows(spoken[-1])[0]["title"] == "Pizza Margherita"
    # The model heard the audio itself, inline.
    (request,) = fake_gemini.requests
    parts = request.json["contents"][-1]["parts"]
    inline = [p["inlineData"] for p in parts if "inlineData" in p]
    assert [base64.b64decode(i["data"]) for i in inline] == [OGG]
    assert [i.get("mimeType") or i.get("mime_type") for i in inline] == ["audio/ogg"]
    # The history keeps the voice note and, after it, its transcription marked as such.
    voice, transcription = Message.objects.filter(
        conversation=maria.conversation, direction="in"
    ).order_by("id")[1:3]
    assert voice.type == "audio" and voice.attachment.status == "stored"
    assert transcription.text == "pizzas"
    assert transcription.payload["data"]["transcription_of"] == voice.pk
    # Counted in the month's AI tokens like every model call.
    usage = metering.pending(tenant_id=tenant.pk, days=[timezone.localdate()])
    assert sum(day.get("ai_tokens", 0) for day in usage.values()) > 0


def test_without_gemini_the_bot_answers_once_that_it_cannot_listen(
    chat_with, pizzaria, fake_graph, settings
):
    settings.GEMINI_API_KEY = ""
    fake_graph.add_media("8002", OGG, "audio/ogg")
    chat = chat_with(pizzaria)
    chat.text("oi")
    step_before = chat.conversation.current_step

    sent = chat.post(_voice(pizzaria, "8002"))

    assert [body_text(b) for b in sent] == [
        "Desculpe, ainda não consigo ouvir áudios. Pode escrever sua mensagem?"
    ]
    assert chat.conversation.current_step == step_before
    # Staff can still play it.
    voice = Message.objects.filter(conversation=chat.conversation, type="audio").get()
    assert voice.attachment.status == "stored"


def test_the_cannot_listen_text_is_the_bots_own(chat_with, pizzaria, fake_graph, settings):
    settings.GEMINI_API_KEY = ""
    pizzaria.options = {**pizzaria.options, "voice_note_text": "Aqui só lemos texto 🙂"}
    pizzaria.save()
    fake_graph.add_media("8003", OGG, "audio/ogg")
    chat = chat_with(pizzaria)
    chat.text("oi")
    assert [body_text(b) for b in chat.post(_voice(pizzaria, "8003"))] == ["Aqui só lemos texto 🙂"]


def test_with_gemini_a_voice_note_that_cannot_be_heard_still_gets_the_answer(
    chat_with, pizzaria, fake_graph, fake_gemini
):
    fake_graph.add_media("8004", OGG, "audio/ogg")
    fake_gemini.fail_next(status=400)  # Google refuses the call: no transcription
    chat = chat_with(pizzaria)
    chat.text("oi")
    sent = chat.post(_voice(pizzaria, "8004"))
    assert [body_text(b) for b in sent] == [
        "Desculpe, ainda não consigo ouvir áudios. Pode escrever sua mensagem?"
    ]


def test_with_gemini_a_voice_note_over_the_limit_gets_the_answer(
    chat_with, pizzaria, fake_graph, fake_gemini
):
    from media.services import SIZE_LIMITS

    fake_graph.add_media("8005", OGG + b"\x00" * SIZE_LIMITS["audio"], "audio/ogg")
    chat = chat_with(pizzaria)
    chat.text("oi")
    sent = chat.post(_voice(pizzaria, "8005"))
    assert [body_text(b) for b in sent] == [
        "Desculpe, ainda não consigo ouvir áudios. Pode escrever sua mensagem?"
    ]
    assert not fake_gemini.requests
