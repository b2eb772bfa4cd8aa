"""The business answering from its own phone, through each provider's webhook: Meta
(coexistence numbers' `smb_message_echoes`), Evolution and Whaticket (`fromMe`).

What a person at the business types on the phone is in the conversation as an outbound
message sent from the phone, and the bot goes quiet for that customer; our own sends
echoed back change nothing; a delivery repeated is stored once; an unsigned echo is
refused. Messages go through tests/conversation.py's driver (every task run inline).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from chatbots import bots, starter_flows
from chatbots.models import Conversation, InboundEvent, Message
from tests import meta
from tests.conversation import FAKES
from tests.fakes import evolution as evo
from tests.fakes import whaticket as wt

CUSTOMER = "5511987654321"
OTHER_CUSTOMER = "5521999998888"
BUSINESS = "5511900000000"  # the number's display phone in Meta's metadata
PNID = "3000003"
META_SECRET = "echoes-app-secret"
META_URL = "/api/chatbots/webhook/"
TYPED = "Oi Maria, aqui é a Ana da loja! Já separo seu pedido."
ECHOES = Path(settings.BASE_DIR) / "tests" / "corpus" / "meta-echoes"


def meta_echo_envelope(echoes: list[dict], *, pnid: str = PNID, contacts=None) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": BUSINESS, "phone_number_id": pnid},
        "message_echoes": echoes,
    }
    if contacts is not None:
        value["contacts"] = contacts
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "smb_message_echoes", "value": value}]}],
    }


def meta_echo(text: str = "", *, to: str = CUSTOMER, msg_id: str | None = None, **content):
    echo = {
        "from": BUSINESS,
        "to": to,
        "id": msg_id or meta.wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    if content:  # another type: {"type": ..., <type>: {...}}
        echo.pop("text")
        echo.update(content)
    return meta_echo_envelope([echo])


class MetaPhone:
    key = "meta"

    @staticmethod
    def make_bot(tenant, fake):
        return bots.chatbot_create(
            tenant=tenant,
            name="Loja",
            provider="meta",
            phone_number_id=PNID,
            access_token="meta-token",
            app_secret=META_SECRET,
        )

    @staticmethod
    def echo(text: str, *, to: str = CUSTOMER, msg_id: str | None = None) -> dict:
        return meta_echo(text, to=to, msg_id=msg_id)

    @staticmethod
    def own_echo(send) -> dict:
        """Our send echoed back, with the id the Graph API gave it."""
        return meta_echo("", msg_id=send.response["messages"][0]["id"], **_meta_content(send.json))

    @staticmethod
    def post_signed_with(client, bot, payload, secret: str):
        return meta.post(client, payload, secret, path=META_URL)


def _meta_content(body: dict) -> dict:
    return {"type": body["type"], body["type"]: body[body["type"]]}


class EvolutionPhone:
    key = "evolution"

    @staticmethod
    def make_bot(tenant, fake):
        return evo.evolution_bot(tenant, fake, name="Loja")

    @staticmethod
    def echo(text: str, *, to: str = CUSTOMER, msg_id: str | None = None) -> dict:
        return evo.upsert(text=text, sender=to, msg_id=msg_id, from_me=True, name="Loja")

    @staticmethod
    def own_echo(send) -> dict:
        return evo.upsert(
            text=send.json["text"], msg_id=send.response["key"]["id"], from_me=True, name="Loja"
        )

    @staticmethod
    def post_signed_with(client, bot, payload, secret: str):
        return evo.post(client, bot.pk, payload, secret=secret)


class WhaticketPhone:
    key = "whaticket"

    @staticmethod
    def make_bot(tenant, fake):
        return wt.whaticket_bot(tenant, fake, name="Loja")

    @staticmethod
    def echo(text: str, *, to: str = CUSTOMER, msg_id: str | None = None) -> dict:
        return {**wt.text_payload(text, number=to, msg_id=msg_id), "fromMe": True}

    @staticmethod
    def own_echo(send) -> dict:
        # The community edition answers a send with an empty 200: our row has our own id,
        # and the echo carries Whaticket's. The text, sent a moment ago, tells it apart.
        return {**wt.text_payload(send.json["body"], number=CUSTOMER), "fromMe": True}

    @staticmethod
    def post_signed_with(client, bot, payload, secret: str):
        return wt.post(client, payload, secret=secret)


PHONES = [MetaPhone, EvolutionPhone, WhaticketPhone]


@pytest.fixture(params=PHONES, ids=lambda p: p.key)
def phone(request):
    return request.param


@pytest.fixture
def fake(request, phone):
    return request.getfixturevalue(FAKES[phone.key])


@pytest.fixture
def bot(tenant, phone, fake):
    bot = phone.make_bot(tenant, fake)
    starter_flows.flow_install(chatbot=bot, flow="menu")
    return bot


@pytest.fixture
def chat(chat_with, bot):
    return chat_with(bot, phone=CUSTOMER)


def phone_rows(conversation: Conversation) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conversation, payload__sent_from="phone").order_by("id")
    )


# --- A person answers from the phone ----------------------------------------------------------


def test_a_reply_typed_on_the_phone_shows_as_sent_by_the_business_and_pauses_the_bot(chat, phone):
    assert chat.text("oi")  # the bot greets

    assert chat.post(phone.echo(TYPED)) == []

    conversation = chat.conversation
    assert conversation.status == Conversation.Status.HUMAN
    (typed,) = phone_rows(conversation)
    assert typed.text == TYPED
    assert typed.direction == Message.Direction.OUT
    assert typed.payload["provider"] == phone.key
    history = list(conversation.messages.order_by("id").values_list("direction", "text"))
    assert history[-1] == (Message.Direction.OUT, TYPED)

    # The customer answers the person: the bot stays quiet, even for its commands.
    assert chat.text("1") == []
    assert chat.text("menu") == []
    assert chat.conversation.status == Conversation.Status.HUMAN
    assert list(chat.conversation.messages.filter(direction="in").values_list("text", flat=True))[
        -2:
    ] == ["1", "menu"]


def test_a_reply_typed_on_the_phone_puts_the_conversation_in_the_attendants_inbox(chat, phone):
    from inbox.models import Ticket

    chat.text("oi")
    chat.post(phone.echo(TYPED))
    chat.post(phone.echo("Mais alguma coisa?", msg_id="typed-2"))

    (ticket,) = Ticket.objects.filter(conversation=chat.conversation)
    assert ticket.status == Ticket.Status.OPEN  # being answered, by nobody in the app yet
    assert ticket.assigned_to is None
    assert chat.conversation.status == Conversation.Status.HUMAN
    assert chat.text("1") == []  # the bot stays quiet


def test_our_own_send_echoed_back_opens_no_ticket(chat, phone, fake):
    from inbox.models import Ticket

    chat.text("oi")
    chat.post(phone.own_echo(fake.sends[-1]))

    assert not Ticket.objects.filter(conversation=chat.conversation).exists()


def test_other_customers_keep_talking_to_the_bot(chat, chat_with, bot, phone):
    chat.text("oi")
    chat.post(phone.echo(TYPED))

    other = chat_with(bot, phone=OTHER_CUSTOMER, name="João")
    assert len(other.text("oi")) == 1
    assert other.conversation.status == Conversation.Status.BOT


def test_our_own_send_echoed_back_is_not_taken_for_a_person(chat, phone, fake):
    (greeting,) = chat.text("oi")
    send = fake.sends[-1]
    assert send.json == greeting

    assert chat.post(phone.own_echo(send)) == []

    conversation = chat.conversation
    assert conversation.status == Conversation.Status.BOT
    assert phone_rows(conversation) == []
    # Only the customer's message and the bot's reply: the echo added nothing.
    assert conversation.messages.count() == 2
    assert chat.text("oi")  # and the bot still answers


def test_an_echo_delivered_twice_is_stored_once(chat, phone):
    chat.text("oi")
    echo = phone.echo(TYPED, msg_id="ECHO-ONCE-1" if phone.key != "meta" else "wamid.ECHOONCE1")

    chat.post(echo)
    chat.post(echo)

    conversation = chat.conversation
    assert len(phone_rows(conversation)) == 1
    assert (
        InboundEvent.objects.filter(external_id__in=["ECHO-ONCE-1", "wamid.ECHOONCE1"]).count() == 1
    )


def test_an_echo_not_signed_by_the_provider_is_refused_and_changes_nothing(
    client, chat, bot, phone
):
    chat.text("oi")
    stored = InboundEvent.objects.count()

    response = phone.post_signed_with(client, bot, phone.echo(TYPED), "not-the-secret")

    assert response.status_code == 401
    assert InboundEvent.objects.count() == stored
    assert chat.conversation.status == Conversation.Status.BOT
    assert phone_rows(chat.conversation) == []


# --- Meta coexistence specifics -------------------------------------------------------------


@pytest.fixture
def meta_bot(tenant):
    return MetaPhone.make_bot(tenant, None)


@pytest.fixture
def meta_chat(chat_with, meta_bot, fake_graph):
    starter_flows.flow_install(chatbot=meta_bot, flow="menu")
    return chat_with(meta_bot, phone=CUSTOMER)


def test_metas_reference_example_is_kept_as_sent_from_the_phone(tenant, chat_with, fake_graph):
    envelope = json.loads((ECHOES / "smb-message-echoes-text.json").read_text(encoding="utf-8"))
    pnid = envelope["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    bot = bots.chatbot_create(
        tenant=tenant,
        name="Quest",
        provider="meta",
        phone_number_id=pnid,
        access_token="meta-token",
        app_secret=META_SECRET,
    )
    chat = chat_with(bot, phone="16505551234")

    assert chat.post(envelope) == []

    # One conversation, the customer's (`to`), not the business's (`from`).
    conversation = Conversation.objects.get(chatbot=bot)
    assert conversation.cliente.wa_id == "16505551234"
    assert conversation.status == Conversation.Status.HUMAN
    (typed,) = phone_rows(conversation)
    assert typed.text.startswith("Here's the info you requested!")
    assert typed.sent_at.timestamp() == 1739321024


def test_an_echo_neither_opens_the_24_hour_window_nor_gets_a_read_receipt(meta_chat, fake_graph):
    assert meta_chat.post(MetaPhone.echo(TYPED)) == []

    conversation = meta_chat.conversation
    assert conversation.status == Conversation.Status.HUMAN
    assert conversation.last_customer_message_at is None  # only the customer opens it
    assert fake_graph.requests == []


def test_the_customer_is_found_through_contacts_when_to_is_not_a_number(meta_chat):
    # pywa's example (corpus pywa-updates/outgoing_message.json) leaves `to` a placeholder.
    echo = {
        "from": BUSINESS,
        "to": "<WHATSAPP_USER_PHONE_NUMBER>",
        "id": meta.wamid(),
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": TYPED},
    }
    contacts = [{"profile": {"name": "Maria"}, "wa_id": CUSTOMER}]

    meta_chat.post(meta_echo_envelope([echo], contacts=contacts))

    assert [m.text for m in phone_rows(meta_chat.conversation)] == [TYPED]


def test_an_image_sent_from_the_phone_keeps_its_caption(meta_chat):
    image = {"id": "1479537139650973", "mime_type": "image/jpeg", "caption": "Nosso cardápio"}

    meta_chat.post(meta_echo(type="image", image=image))

    (typed,) = phone_rows(meta_chat.conversation)
    assert typed.text == "Nosso cardápio"
    assert typed.payload["type"] == "image"


def test_an_edit_or_deletion_on_the_phone_changes_that_message_only(meta_chat):
    original = meta.wamid()
    meta_chat.post(MetaPhone.echo("Chega amanhã", msg_id=original))

    meta_chat.post(
        meta_echo(
            type="edit",
            edit={
                "original_message_id": original,
                "message": {"type": "text", "text": {"body": "Chega hoje"}},
            },
        )
    )
    (typed,) = phone_rows(meta_chat.conversation)
    assert typed.text == "Chega hoje"

    meta_chat.post(meta_echo(type="revoke", revoke={"original_message_id": original}))
    (typed,) = phone_rows(meta_chat.conversation)
    assert typed.payload["revoked"] is True
    assert typed.text == "Chega hoje"


def test_a_batch_with_a_customer_message_and_an_echo_stores_both(meta_chat, fake_graph):
    envelope = meta.text_message(PNID, sender=CUSTOMER, body="oi")
    envelope["entry"][0]["changes"] += meta_echo(TYPED)["entry"][0]["changes"]

    meta_chat.post(envelope)

    kinds = sorted(InboundEvent.objects.values_list("payload__type", flat=True))
    assert kinds == ["business_echo", "text"]
    assert [m.text for m in phone_rows(meta_chat.conversation)] == [TYPED]


# --- Live screens -------------------------------------------------------------------------------


class RecordingLayer:
    """A channel layer that records what the inbox publishes (inbox.live)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


def test_a_reply_from_the_phone_shows_live_to_the_queue_of_an_open_ticket(chat, phone, monkeypatch):
    from inbox import live
    from inbox import services as inbox
    from inbox.models import Queue

    layer = RecordingLayer()
    monkeypatch.setattr(live, "_layer", lambda: layer)
    chat.text("oi")
    queue = Queue.objects.create(tenant=chat.bot.tenant, name="Suporte", slug="suporte")
    inbox.ticket_open(chat.conversation, queue)
    layer.sent.clear()

    chat.post(phone.echo(TYPED))

    group = f"inbox.t{chat.bot.tenant_id}.q{queue.pk}"
    events = [m for g, m in layer.sent if g == group and m["kind"] == "message"]
    assert [(e["data"]["sender"], e["data"]["text"]) for e in events] == [("phone", TYPED)]
    assert events[0]["data"]["direction"] == Message.Direction.OUT
