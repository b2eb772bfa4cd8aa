"""Evolution API: its webhook (v1 and v2), echoes and the human takeover, sending, commands."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

import pytest
from django.core.management import CommandError, call_command

from chatbots import bots, starter_flows
from chatbots.models import Conversation, InboundEvent, Message
from chatbots.providers import evolution, evolution_instance
from chatbots.providers.base import chatbot_secrets
from chatbots.qrtext import QRImageError, png_dark_pixels, qr_modules, qr_text_from_png, render
from chatbots.wire import Media, Text
from tests.fakes import evolution as evo

CUSTOMER = "5511987654321"


@pytest.fixture
def bot(tenant, fake_evolution):
    return evo.evolution_bot(tenant, fake_evolution, name="Loja")


@pytest.fixture
def queued(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr("chatbots.inbound._dispatch", ids.append)
    return ids


def stored():
    return list(InboundEvent.objects.filter(provider="evolution").order_by("id"))


# --- Webhook: what is read --------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_v1_and_v2_text_messages_are_read_alike(client, bot, queued, version):
    response = evo.post(client, bot.pk, evo.upsert(text="Quero pizza", version=version))
    assert response.status_code == 200
    (event,) = stored()
    assert event.payload["text"] == "Quero pizza"
    assert event.payload["type"] == "text"
    assert event.payload["from_phone"] == CUSTOMER
    assert event.payload["profile_name"] == "Maria"
    assert event.contact_key == CUSTOMER


def test_a_v1_long_timestamp_is_read(client, bot, queued):
    payload = evo.upsert(text="oi", version=1)
    payload["data"]["messageTimestamp"] = {"low": 1717000000, "high": 0, "unsigned": False}
    assert evo.post(client, bot.pk, payload).status_code == 200
    assert stored()[0].occurred_at.timestamp() == 1717000000


def test_button_and_list_replies_carry_the_tapped_id(client, bot, queued):
    button = {
        "buttonsResponseMessage": {
            "selectedButtonId": "pedido:finalizar",
            "selectedDisplayText": "Finalizar",
        }
    }
    row = {
        "listResponseMessage": {"title": "Pizzas", "singleSelectReply": {"selectedRowId": "cat:7"}}
    }
    evo.post(client, bot.pk, evo.upsert(message=button))
    evo.post(client, bot.pk, evo.upsert(message=row))
    tapped = [(e.payload["type"], e.payload["text"], e.payload["reply_id"]) for e in stored()]
    assert tapped == [
        ("interactive", "Finalizar", "pedido:finalizar"),
        ("interactive", "Pizzas", "cat:7"),
    ]


def test_a_lid_sender_is_resolved_to_the_phone_through_remote_jid_alt(client, bot, queued):
    evo.post(client, bot.pk, evo.upsert(text="oi", lid="123456789012345"))
    (event,) = stored()
    assert event.payload["from_phone"] == CUSTOMER
    assert event.payload["from_user_id"] == "123456789012345@lid"
    assert event.contact_key == CUSTOMER


def test_group_messages_are_acknowledged_and_ignored(client, bot, queued):
    assert evo.post(client, bot.pk, evo.upsert(text="oi", group=True)).status_code == 200
    assert stored() == []


@pytest.mark.parametrize("name", ["messages.update", "qrcode.updated", "SEND_MESSAGE"])
def test_other_events_are_answered_200_and_ignored(client, bot, queued, name):
    response = evo.post(client, bot.pk, evo.event(name, {"state": "open"}))
    assert response.status_code == 200
    assert stored() == []


def _connection(client, bot, state: str, at: str) -> None:
    from chatbots import engine

    payload = evo.event("connection.update", {"instance": "loja", "state": state})
    payload["date_time"] = at
    assert evo.post(client, bot.pk, payload).status_code == 200
    engine.process_event(stored()[-1].pk)


def test_a_number_that_disconnects_is_kept_and_the_owners_hear_of_it(client, bot, queued):
    from billing.models import BillingAlert
    from chatbots.account_events import connection_states

    _connection(client, bot, "open", "2026-05-01T10:00:00.000Z")
    assert not BillingAlert.objects.exists()
    _connection(client, bot, "close", "2026-05-01T11:00:00.000Z")
    (event,) = [e for e in stored() if e.payload["value"]["state"] == "close"]
    assert event.kind == InboundEvent.Kind.ACCOUNT and event.state == InboundEvent.State.DONE
    (alert,) = BillingAlert.objects.filter(tenant=bot.tenant)
    assert "desconectou" in alert.message and "Loja" in alert.message
    state, since = connection_states([bot.pk])[bot.pk]
    assert state == "close" and since.isoformat().startswith("2026-05-01T11:00")
    # Reconnecting on the way back says nothing; being open again does.
    _connection(client, bot, "connecting", "2026-05-01T11:05:00.000Z")
    _connection(client, bot, "open", "2026-05-01T11:06:00.000Z")
    messages = list(BillingAlert.objects.order_by("pk").values_list("message", flat=True))
    assert len(messages) == 2 and "voltou a se conectar" in messages[1]
    assert connection_states([bot.pk])[bot.pk][0] == "open"


def test_a_connection_event_with_an_unknown_state_is_not_kept(client, bot, queued):
    payload = evo.event("connection.update", {"instance": "loja", "state": "refused"})
    assert evo.post(client, bot.pk, payload).status_code == 200
    assert stored() == []


def test_the_per_event_url_of_webhook_by_events_works(client, bot, queued):
    response = evo.post(client, bot.pk, evo.upsert(text="oi"), suffix="messages-upsert")
    assert response.status_code == 200
    assert len(stored()) == 1


def test_a_webhook_from_another_instance_is_not_stored(client, bot, queued):
    response = evo.post(client, bot.pk, evo.upsert(text="oi", instance="outra-loja"))
    assert response.status_code == 200
    assert stored() == []


def test_the_same_upsert_twice_is_stored_once(client, bot, queued):
    payload = evo.upsert(text="oi")
    evo.post(client, bot.pk, payload)
    evo.post(client, bot.pk, payload)
    assert len(stored()) == 1


# --- Webhook: who may call it -----------------------------------------------------------------


@pytest.mark.parametrize("secret, reason", [(None, "missing_secret"), ("errado", "bad_secret")])
def test_a_missing_or_wrong_secret_header_is_refused_and_nothing_stored(
    client, bot, queued, secret, reason, refusal_reasons
):
    response = evo.post(client, bot.pk, evo.upsert(text="oi"), secret=secret)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert refusal_reasons() == [reason]
    assert stored() == []


def test_an_unknown_bot_or_a_bot_of_another_provider_gets_the_same_401(
    client, bot, tenant, queued, refusal_reasons
):
    stub = bots.chatbot_create(tenant=tenant, name="Stub", provider="stub")
    answers = [
        evo.post(client, 999999, evo.upsert(text="oi")),
        evo.post(client, stub.pk, evo.upsert(text="oi")),
        evo.post(client, bot.pk, evo.upsert(text="oi"), secret="errado"),
    ]
    assert {(a.status_code, a.content) for a in answers} == {(401, answers[0].content)}
    assert refusal_reasons() == ["unknown_bot", "unknown_bot", "bad_secret"]


def test_malformed_json_is_refused_with_400(client, bot, queued):
    assert evo.post(client, bot.pk, b"{nope").status_code == 400
    assert stored() == []


@pytest.fixture
def jwt_bot(bot):
    secrets = {**chatbot_secrets(bot), "jwt_key": "chave-jwt-da-loja"}
    return bots.chatbot_update(chatbot=bot, provider_secrets=secrets)


def bearer(claims: dict, key: str = "chave-jwt-da-loja") -> dict[str, str]:
    return {"Authorization": f"Bearer {evolution_instance.jwt_encode_hs256(claims, key)}"}


def fresh_claims(**extra) -> dict:
    now = int(time.time())
    return {"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook", **extra}


def test_a_valid_evolution_jwt_is_accepted(client, jwt_bot, queued):
    response = evo.post(
        client, jwt_bot.pk, evo.upsert(text="oi"), secret=None, headers=bearer(fresh_claims())
    )
    assert response.status_code == 200
    assert len(stored()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"X-Webhook-Secret": evo.WEBHOOK_SECRET}, id="secret-instead-of-jwt"),
        pytest.param(bearer(fresh_claims(), key="outra-chave"), id="wrong-key"),
        pytest.param(bearer({**fresh_claims(), "exp": int(time.time()) - 3600}), id="expired"),
        pytest.param(
            bearer({**fresh_claims(), "iat": int(time.time()) + 3600}), id="issued-in-future"
        ),
        pytest.param(bearer({**fresh_claims(), "app": "outro"}), id="not-evolution"),
        pytest.param(bearer({"iat": int(time.time()), "app": "evolution"}), id="no-exp"),
    ],
)
def test_a_bad_jwt_is_refused(client, jwt_bot, queued, headers):
    response = evo.post(client, jwt_bot.pk, evo.upsert(text="oi"), secret=None, headers=headers)
    assert response.status_code == 401
    assert stored() == []


def test_a_v1_bot_takes_its_secret_from_the_url(client, bot, queued):
    bots.chatbot_update(
        chatbot=bot,
        provider_config={"base_url": "http://x", "instance": "loja", "version": 1},
    )
    body = evo.upsert(text="oi", version=1)
    url = f"/api/chatbots/webhook/evolution/{bot.pk}/?secret={evo.WEBHOOK_SECRET}"
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    assert len(stored()) == 1


# --- Echoes and the human takeover ------------------------------------------------------------


@pytest.fixture
def menu_bot(bot):
    starter_flows.flow_install(chatbot=bot, flow="menu")
    return bot


@pytest.fixture
def say(client, menu_bot, fake_evolution, celery_eager, django_capture_on_commit_callbacks):
    """Post one upsert through the webhook and run everything; return what went out."""

    def _say(payload):
        before = len(fake_evolution.sends)
        with django_capture_on_commit_callbacks(execute=True):
            assert evo.post(client, menu_bot.pk, payload).status_code == 200
        return fake_evolution.sends[before:]

    return _say


def test_the_bots_own_echo_never_triggers_the_bot(say, fake_evolution):
    (greeting,) = say(evo.upsert(text="oi"))
    own_id = greeting.response["key"]["id"]

    echoed = say(evo.upsert(text=greeting.json["text"], msg_id=own_id, from_me=True))

    assert echoed == []
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.BOT
    # Only the customer's message and the bot's reply: the echo added nothing.
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_an_echo_that_beats_the_send_answer_is_still_recognized_by_its_text(say, fake_evolution):
    (greeting,) = say(evo.upsert(text="oi"))
    # Evolution may fire the upsert before the send call returns its id: same text, new id.
    assert say(evo.upsert(text=greeting.json["text"], msg_id=evo.new_id(), from_me=True)) == []
    assert Conversation.objects.get().status == Conversation.Status.BOT


def test_a_reply_typed_on_the_phone_pauses_the_bot_for_that_conversation(say, fake_evolution):
    say(evo.upsert(text="oi"))

    assert say(evo.upsert(text="Oi Maria, aqui é a Ana da loja!", from_me=True)) == []

    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.HUMAN
    typed = Message.objects.get(conversation=conversation, payload__sent_from="phone")
    assert typed.text == "Oi Maria, aqui é a Ana da loja!"
    assert typed.direction == Message.Direction.OUT

    # The customer answers the person: the bot stays quiet.
    assert say(evo.upsert(text="1")) == []
    assert say(evo.upsert(text="menu")) == []


def test_other_customers_keep_talking_to_the_bot(say, fake_evolution):
    say(evo.upsert(text="oi"))
    say(evo.upsert(text="Deixa comigo", from_me=True))
    assert len(say(evo.upsert(text="oi", sender="5521999998888"))) == 1


def test_a_numbered_answer_to_a_menu_sent_as_text_picks_that_option(say):
    (menu,) = say(evo.upsert(text="oi"))
    assert "1. Horário e endereço" in menu.json["text"]
    (answer,) = say(evo.upsert(text="1"))
    assert "segunda a sábado" in answer.json["text"]


# --- Delivery statuses (messages.update) ------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_delivery_and_read_statuses_move_the_reply_forward(say, version):
    (greeting,) = say(evo.upsert(text="oi"))
    sent_id = greeting.response["key"]["id"]
    reply = Message.objects.get(provider_message_id=sent_id)
    assert reply.status == Message.Status.SENT

    say(evo.update(sent_id, "DELIVERY_ACK", version=version, ts=1750000100))
    say(evo.update(sent_id, "READ", version=version, ts=1750000200))
    say(evo.update(sent_id, "DELIVERY_ACK", version=version, ts=1750000300))  # late: no-op

    reply.refresh_from_db()
    assert reply.status == Message.Status.READ
    assert reply.delivered_at.timestamp() == 1750000100
    assert reply.read_at.timestamp() == 1750000200


def test_an_error_status_marks_the_reply_failed(say):
    (greeting,) = say(evo.upsert(text="oi"))
    sent_id = greeting.response["key"]["id"]

    say(evo.update(sent_id, "ERROR"))

    reply = Message.objects.get(provider_message_id=sent_id)
    assert reply.status == Message.Status.FAILED
    assert reply.error_code == "evolution_error"


@pytest.mark.parametrize(
    "payload",
    [
        evo.update("3EB0CUSTOMERS", "READ", from_me=False),  # the business read the customer
        evo.update("3EB0PENDING", "PENDING"),  # not on WhatsApp's server yet
        evo.update("3EB0DELETED", "DELETED"),
    ],
)
def test_updates_that_say_nothing_about_our_delivery_store_nothing(client, bot, queued, payload):
    assert evo.post(client, bot.pk, payload).status_code == 200
    assert stored() == []


def test_a_status_for_a_message_we_did_not_send_is_ignored(say):
    say(evo.update("3EB0SENTFROMTHEPHONE", "READ"))

    (event,) = InboundEvent.objects.filter(kind=InboundEvent.Kind.STATUS)
    assert event.state == InboundEvent.State.IGNORED


# --- Sending ----------------------------------------------------------------------------------


def test_v2_sends_number_and_text_with_the_apikey(bot, fake_evolution):
    result = evolution.EvolutionProvider().send(bot, CUSTOMER, Text(body="Saiu para entrega"))
    (record,) = fake_evolution.sends
    assert record.path == "/message/sendText/loja"
    assert record.headers["apikey"] == evo.APIKEY
    assert record.json == {"number": CUSTOMER, "text": "Saiu para entrega"}
    assert result.external_id == record.response["key"]["id"]


def test_v1_sends_the_text_inside_text_message(bot, fake_evolution):
    bots.chatbot_update(
        chatbot=bot,
        provider_config={"base_url": fake_evolution.url, "instance": "loja", "version": "1.8"},
    )
    evolution.EvolutionProvider().send(bot, CUSTOMER, Text(body="Oi"))
    (record,) = fake_evolution.sends
    assert record.json == {"number": CUSTOMER, "textMessage": {"text": "Oi"}}


def test_media_by_link_goes_through_send_media_and_the_rest_as_text(bot, fake_evolution):
    provider = evolution.EvolutionProvider()
    provider.send(
        bot, CUSTOMER, Media(media_type="document", link="https://x.com/a.pdf", filename="a.pdf")
    )
    provider.send(bot, CUSTOMER, Media(media_type="sticker", link="https://x.com/s.webp"))
    doc, sticker = fake_evolution.sends
    assert doc.path == "/message/sendMedia/loja"
    assert doc.json == {
        "number": CUSTOMER,
        "mediatype": "document",
        "media": "https://x.com/a.pdf",
        "fileName": "a.pdf",
    }
    assert sticker.path == "/message/sendText/loja"
    assert sticker.json["text"] == "https://x.com/s.webp"


def test_an_unknown_instance_is_a_permanent_error(bot, fake_evolution):
    fake_evolution.instances.clear()
    with pytest.raises(evolution.ProviderError) as failed:
        evolution.EvolutionProvider().send(bot, CUSTOMER, Text(body="Oi"))
    assert failed.value.code == "instance_not_found"
    assert not failed.value.retryable


def test_the_connection_check_tells_a_closed_instance_and_how_to_fix_it(bot, fake_evolution):
    fake_evolution.instances["loja"]["state"] = "close"
    ok, detail = evolution.EvolutionProvider().check_connection(bot)
    assert not ok
    assert "close" in detail and "evolution_connect" in detail


# --- Commands ---------------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_evolution_connect_creates_the_instance_sets_the_webhook_and_prints_the_qr(
    tenant, fake_evolution, settings
):
    settings.SITE_URL = "https://bots.example.com.br"
    bot = bots.chatbot_create(
        tenant=tenant,
        name="Nova",
        provider="evolution",
        provider_config={"base_url": fake_evolution.url, "instance": "nova"},
        provider_secrets={"apikey": evo.APIKEY},
    )

    output = run("evolution_connect", "--bot", str(bot.pk), "--number", "5511900000000")

    assert fake_evolution.instances["nova"]["state"] == "close"
    bot.refresh_from_db()
    secret = chatbot_secrets(bot)["webhook_secret"]  # generated and kept on the bot
    webhook = fake_evolution.instances["nova"]["webhook"]
    assert webhook["url"] == f"https://bots.example.com.br/api/chatbots/webhook/evolution/{bot.pk}/"
    assert webhook["headers"] == {"X-Webhook-Secret": secret}
    assert webhook["events"] == ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE"]
    assert webhook["enabled"]
    assert evo.PAIRING_CODE in output
    assert evo.QR_CODE in output
    assert render(fake_evolution.qr_modules) in output
    assert secret not in output


def test_evolution_connect_on_a_connected_instance_only_refreshes_the_webhook(bot, fake_evolution):
    output = run("evolution_connect", "--bot", str(bot.pk))
    assert "already connected" in output
    assert fake_evolution.instances["loja"]["webhook"]["headers"] == {
        "X-Webhook-Secret": evo.WEBHOOK_SECRET
    }


def test_evolution_connect_gives_evolution_the_jwt_key_when_the_bot_has_one(
    jwt_bot, fake_evolution
):
    run("evolution_connect", "--bot", str(jwt_bot.pk))
    assert fake_evolution.instances["loja"]["webhook"]["headers"] == {
        "jwt_key": "chave-jwt-da-loja"
    }


def test_evolution_connect_refuses_a_bot_of_another_provider(tenant):
    stub = bots.chatbot_create(tenant=tenant, name="Stub", provider="stub")
    with pytest.raises(CommandError, match="not 'evolution'"):
        run("evolution_connect", "--bot", str(stub.pk))


def test_evolution_connect_says_when_evolution_refuses_the_key(bot, fake_evolution):
    fake_evolution.apikey = "outra"
    with pytest.raises(CommandError, match="unauthorized"):
        run("evolution_connect", "--bot", str(bot.pk))


def test_evolution_status_shows_the_state_and_the_webhook(bot, fake_evolution):
    run("evolution_connect", "--bot", str(bot.pk))
    output = run("evolution_status", "--bot", str(bot.pk))
    assert "'loja': open" in output
    assert f"/api/chatbots/webhook/evolution/{bot.pk}/" in output
    assert "auth=X-Webhook-Secret header" in output
    assert evo.WEBHOOK_SECRET not in output


def test_evolution_status_asks_to_reconnect_a_webhook_without_delivery_statuses(
    bot, fake_evolution
):
    run("evolution_connect", "--bot", str(bot.pk))
    # Connected before statuses were read: Evolution only sends messages.upsert.
    fake_evolution.instances["loja"]["webhook"]["events"] = ["MESSAGES_UPSERT"]

    output = run("evolution_status", "--bot", str(bot.pk))

    assert "delivery and read statuses do not reach the bot" in output
    assert "will not hear customers" not in output


def test_evolution_status_fails_for_a_missing_instance(bot, fake_evolution):
    fake_evolution.instances.clear()
    with pytest.raises(CommandError, match="does not exist"):
        run("evolution_status", "--bot", str(bot.pk))


# --- The QR code as text ----------------------------------------------------------------------


def _png(rows: list[bytes], width: int, height: int, *, color: int = 0, depth: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


def _filtered_gray_png(pixels: list[list[int]]) -> bytes:
    """A grayscale PNG whose rows use each of the five PNG filters in turn."""

    def paeth(a, b, c):
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

    rows, previous = [], [0] * len(pixels[0])
    for y, line in enumerate(pixels):
        kind = y % 5
        out = bytearray([kind])
        for x, value in enumerate(line):
            left = line[x - 1] if x else 0
            up, upleft = previous[x], (previous[x - 1] if x else 0)
            predictor = [0, left, up, (left + up) // 2, paeth(left, up, upleft)][kind]
            out.append((value - predictor) & 0xFF)
        rows.append(bytes(out))
        previous = line
    return _png(rows, len(pixels[0]), len(pixels))


def test_a_qr_png_is_read_back_module_for_module():
    modules = evo.sample_modules(25)
    assert qr_modules(png_dark_pixels(evo.png_from_modules(modules, scale=3, margin=2))) == modules


def test_every_png_row_filter_is_undone():
    modules = evo.sample_modules(21)
    scale, margin = 2, 4
    size = (21 + 2 * margin) * scale
    pixels = [
        [
            0
            if 0 <= (y // scale - margin) < 21
            and 0 <= (x // scale - margin) < 21
            and modules[y // scale - margin][x // scale - margin]
            else 255
            for x in range(size)
        ]
        for y in range(size)
    ]
    assert qr_modules(png_dark_pixels(_filtered_gray_png(pixels))) == modules


def test_the_text_qr_draws_two_module_rows_per_line():
    drawn = render([[True, False], [False, True], [True, True]], quiet=0)
    # Light modules are drawn (dark terminals): row pairs (1,2) then (3, padding).
    assert drawn.split("\n") == ["▄▀", "▄▄"]
    assert render([[True, False], [False, True]], quiet=0, invert=True) == "▀▄"


def test_an_image_that_is_not_a_png_is_refused():
    with pytest.raises(QRImageError):
        qr_text_from_png(b"GIF89a....")
