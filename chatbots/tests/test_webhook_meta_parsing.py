"""What handlers get from each Meta message type (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components; Meta: https://developers.facebook.com/docs/whatsapp/business-scoped-user-ids)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chatbots.providers.meta_inbound import MetaPayloadError, parse_envelope, parse_message
from chatbots.wire import InboundMessage

CONTACT = {"profile": {"name": "Maria"}, "wa_id": "5511987654321"}


def msg(msg_type: str, content=None, **extra) -> dict:
    m = {"from": "5511987654321", "id": "wamid.X", "timestamp": "1750000000", "type": msg_type}
    if content is not None:
        m[msg_type] = content
    m.update(extra)
    return m


def parse(m: dict, contact: dict | None = CONTACT, **kwargs) -> InboundMessage:
    parsed = parse_message(m, bot_key="106540352242922", contact=contact, **kwargs)
    # What the engine reads back from InboundEvent.payload must be the same message.
    assert InboundMessage.from_dict(json.loads(json.dumps(parsed.to_dict()))) == parsed
    return parsed


def test_a_text_message_gives_its_body_sender_and_time():
    m = parse(msg("text", {"body": "Quero 2 pães"}))

    assert (m.type, m.text, m.reply_id) == ("text", "Quero 2 pães", "")
    assert m.from_phone == "5511987654321"
    assert m.profile_name == "Maria"
    assert m.timestamp == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)
    assert (m.provider, m.external_id, m.bot_key) == ("meta", "wamid.X", "106540352242922")


@pytest.mark.parametrize(
    "interactive, text, reply_id",
    [
        ({"type": "button_reply", "button_reply": {"id": "sim", "title": "Sim"}}, "Sim", "sim"),
        (
            {
                "type": "list_reply",
                "list_reply": {"id": "cat-3", "title": "Bolos", "description": "Doces"},
            },
            "Bolos",
            "cat-3",
        ),
    ],
    ids=["button_reply", "list_reply"],
)
def test_a_tap_gives_the_title_as_text_and_the_id_as_reply_id(interactive, text, reply_id):
    m = parse(msg("interactive", interactive, context={"from": "5511900000000", "id": "wamid.OUT"}))

    assert (m.text, m.reply_id, m.context_id) == (text, reply_id, "wamid.OUT")


def test_a_template_quick_reply_gives_its_payload_as_reply_id():
    m = parse(msg("button", {"payload": "CONFIRMAR_PEDIDO", "text": "Confirmar"}))

    assert (m.type, m.text, m.reply_id) == ("button", "Confirmar", "CONFIRMAR_PEDIDO")


def test_a_completed_flow_gives_its_answers():
    response = {"flow_token": "tok-1", "nota": "5"}
    nfm = {"name": "flow", "body": "Sent", "response_json": json.dumps(response)}

    m = parse(msg("interactive", {"type": "nfm_reply", "nfm_reply": nfm}))

    assert m.reply_id == "tok-1"
    assert m.data["flow"]["response"] == response


@pytest.mark.parametrize(
    "kind, content, text, media",
    [
        (
            "image",
            {"id": "m1", "mime_type": "image/jpeg", "sha256": "h", "caption": "Meu bolo"},
            "Meu bolo",
            {"id": "m1", "mime_type": "image/jpeg", "sha256": "h"},
        ),
        (
            "document",
            {"id": "m2", "mime_type": "application/pdf", "filename": "pedido.pdf"},
            "",
            {"id": "m2", "mime_type": "application/pdf", "filename": "pedido.pdf"},
        ),
        (
            "audio",
            {"id": "m3", "mime_type": "audio/ogg; codecs=opus", "voice": True},
            "",
            {"id": "m3", "mime_type": "audio/ogg; codecs=opus", "voice": True},
        ),
        (
            "sticker",
            {"id": "m4", "mime_type": "image/webp", "animated": False},
            "",
            {"id": "m4", "mime_type": "image/webp", "animated": False},
        ),
    ],
    ids=["image", "document", "voice", "sticker"],
)
def test_media_gives_its_id_mime_caption_and_extras(kind, content, text, media):
    m = parse(msg(kind, content))

    assert (m.type, m.text) == (kind, text)
    assert m.data["media"] == media


def test_a_location_keeps_its_coordinates_and_place():
    place = {"latitude": -23.55, "longitude": -46.63, "name": "Padaria", "address": "Rua A, 1"}

    m = parse(msg("location", place))

    assert m.data["location"] == place


def test_an_order_keeps_its_products():
    items = [{"product_retailer_id": "PAO", "quantity": 3, "item_price": 1.5, "currency": "BRL"}]

    m = parse(msg("order", {"catalog_id": "77", "text": "capricha", "product_items": items}))

    assert m.text == "capricha"
    assert m.data["order"] == {"catalog_id": "77", "product_items": items}


def test_shared_contacts_are_kept():
    card = {"name": {"formatted_name": "João"}, "phones": [{"phone": "+55 11 91234-5678"}]}

    m = parse(msg("contacts", [card]))

    assert m.data["contacts"] == [card]


@pytest.mark.parametrize(
    "reaction", [{"message_id": "wamid.OUT", "emoji": ""}, {"message_id": "wamid.OUT"}]
)
def test_a_removed_reaction_is_marked_removed(reaction):
    m = parse(msg("reaction", reaction))

    assert m.data["removed"] is True
    assert m.data["reaction"]["message_id"] == "wamid.OUT"


def test_a_reaction_gives_its_emoji():
    m = parse(msg("reaction", {"message_id": "wamid.OUT", "emoji": "👍"}))

    assert (m.text, m.data["removed"]) == ("👍", False)


def test_a_number_change_keeps_the_new_number():
    system = {"body": "User changed", "wa_id": "5511912345678", "type": "user_changed_number"}

    m = parse(msg("system", system), contact=None)

    assert m.text == "User changed"
    assert m.data["system"]["wa_id"] == "5511912345678"


def test_unsupported_messages_keep_metas_error():
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]

    m = parse(msg("unsupported", {"type": "poll"}, errors=errors))

    assert m.data["unsupported_type"] == "poll"
    assert m.data["errors"][0]["code"] == "131051"
    assert m.data["errors"][0]["details"] == "Message type is currently not supported."


def test_an_edit_gives_the_new_text_and_the_original_id():
    edit = {
        "original_message_id": "wamid.OLD",
        "message": {"type": "text", "text": {"body": "2 bolos"}},
    }

    m = parse(msg("edit", edit))

    assert (m.type, m.text) == ("edit", "2 bolos")
    assert m.data["original_message_id"] == "wamid.OLD"


def test_an_ad_referral_and_forward_flags_are_kept():
    referral = {"source_type": "ad", "source_id": "120", "ctwa_clid": "abc", "headline": "Promo"}

    m = parse(msg("text", {"body": "Oi"}, referral=referral, context={"forwarded": True}))

    assert m.data["referral"] == referral
    assert m.data["context"] == {"forwarded": True}
    assert m.context_id == ""


def test_a_product_inquiry_keeps_the_product():
    context = {
        "from": "5511900000000",
        "id": "wamid.CAT",
        "referred_product": {"catalog_id": "77", "product_retailer_id": "PAO"},
    }

    m = parse(msg("text", {"body": "Tem?"}, context=context))

    assert m.context_id == "wamid.CAT"
    assert m.data["context"]["referred_product"]["product_retailer_id"] == "PAO"


def test_a_username_user_without_phone_is_keyed_by_bsuid():
    # Since 2026 Meta may omit the phone number of users who adopt a username (§1.7).
    contact = {
        "profile": {"name": "Ana", "username": "ana.doces"},
        "user_id": "BR.13491208655302741918",
        "parent_user_id": "BR.ENT.1",
    }
    m = msg("text", {"body": "Oi"}, from_user_id="BR.13491208655302741918")
    del m["from"]

    parsed = parse(m, contact=contact)

    assert parsed.from_phone == ""
    assert parsed.from_user_id == "BR.13491208655302741918"
    assert parsed.contact_key == "BR.13491208655302741918"
    assert parsed.data["username"] == "ana.doces"
    assert parsed.profile_name == "Ana"


def test_a_foreign_wa_id_keeps_its_own_country_code():
    m = parse(msg("text", {"body": "Hi"}, **{"from": "16505551234"}))

    assert m.from_phone == "16505551234"


def test_an_unknown_type_is_kept_with_its_content():
    m = parse(msg("hologram", {"shape": "cube"}))

    assert (m.type, m.text) == ("hologram", "")
    assert m.data["hologram"] == {"shape": "cube"}


def test_value_errors_of_a_message_without_content_are_kept():
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": {"phone_number_id": "106540352242922"},
                            "messages": [msg("interactive")],
                            "errors": [{"code": 131000, "title": "Something went wrong"}],
                        },
                    }
                ]
            }
        ],
    }

    [(parsed, raw)] = parse_envelope(envelope)

    assert parsed.data["errors"][0]["code"] == "131000"
    assert raw["message"]["id"] == "wamid.X"


def test_a_messages_list_of_the_wrong_type_is_malformed():
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"field": "messages", "value": {"messages": {"id": "x"}}}]}],
    }

    with pytest.raises(MetaPayloadError):
        parse_envelope(envelope)
