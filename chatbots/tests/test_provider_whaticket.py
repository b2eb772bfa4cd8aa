"""Whaticket: the original system's signed webhook, its refusals, routing and sending."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone
from requests.structures import CaseInsensitiveDict

from chatbots import bots
from chatbots.models import Conversation, InboundEvent, Message
from chatbots.outbox import send_to_customer
from chatbots.providers import whaticket
from chatbots.providers.base import WebhookRefused
from chatbots.wire import Media, Text
from clientes.services import cliente_upsert_from_whatsapp
from tests.fakes import whaticket as wt

PATHS = [
    "/webhook/whaticket",
    "/webhook/whaticket/",
    "/api/chatbots/webhook/whaticket/",
]
# The original system's example (README, "Whaticket"): this body, this secret, this time.
EXAMPLE_BODY = '{"message": {"conversation": "olá"}, "number": "5511999999999"}'.encode()
EXAMPLE_TIMESTAMP = "1700000000"
EXAMPLE_SECRET = "minha-shared-secret"
EXAMPLE_SIGNATURE = "6145f8bc1f3c1b7ab0868e0dd6308a16c6cc35f3be094ba2314afb88d033053b"


@pytest.fixture
def bot(tenant, fake_whaticket):
    return wt.whaticket_bot(tenant, fake_whaticket, name="Pizzaria")


@pytest.fixture
def queued(monkeypatch):
    """What would be queued for processing (the engine is tested elsewhere)."""
    ids: list[int] = []
    monkeypatch.setattr("chatbots.inbound._dispatch", ids.append)
    return ids


def stored():
    return list(InboundEvent.objects.filter(provider="whaticket"))


# --- Accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_a_signed_text_is_queued_with_202_and_stored_once(
    client, bot, queued, path, django_capture_on_commit_callbacks
):
    payload = wt.text_payload("olá", number="5511999999999")
    with django_capture_on_commit_callbacks(execute=True):
        response = wt.post(client, payload, path=path)

    assert response.status_code == 202
    assert response.json() == {"queued": True}
    (event,) = stored()
    assert event.chatbot_id == bot.pk
    assert event.payload["text"] == "olá"
    assert event.payload["from_phone"] == "5511999999999"
    assert event.payload["type"] == "text"
    assert queued == [event.pk]

    again = wt.post(client, payload, path=path)  # Whaticket retrying the same message
    assert again.status_code == 202
    assert len(stored()) == 1


@pytest.mark.parametrize(
    "path", ["/webhook/whaticket/{id}", "/api/chatbots/webhook/whaticket/{id}/"]
)
def test_the_bot_id_in_the_url_picks_the_bot(client, bot, tenant, queued, path):
    other = bots.chatbot_create(
        tenant=tenant,
        name="Outra loja",
        provider="whaticket",
        provider_secrets={"shared_secret": "outro-segredo"},
    )
    response = wt.post(
        client, wt.text_payload("oi"), path=path.format(id=other.pk), secret="outro-segredo"
    )
    assert response.status_code == 202
    assert [e.chatbot_id for e in stored()] == [other.pk]


def test_the_original_text_payload_without_an_id_is_stored_once_per_delivery(client, bot, queued):
    payload = {"message": {"conversation": "olá"}, "number": "5511999999999"}
    now = int(timezone.now().timestamp())
    assert wt.post(client, payload, timestamp=now).status_code == 202
    assert wt.post(client, payload, timestamp=now).status_code == 202
    # Same bytes, same timestamp: the same delivery; a new timestamp is a new message.
    assert len(stored()) == 1
    assert wt.post(client, payload, timestamp=now + 5).status_code == 202
    assert len(stored()) == 2


def test_an_interactive_reply_is_read_with_its_title_and_the_tickets_number(client, bot, queued):
    payload = wt.button_payload("Finalizar", number="5511988887777", button_id="pedido:finalizar")
    assert wt.post(client, payload).status_code == 202
    (event,) = stored()
    assert event.payload["type"] == "interactive"
    assert event.payload["text"] == "Finalizar"
    assert event.payload["reply_id"] == "pedido:finalizar"
    assert event.payload["from_phone"] == "5511988887777"
    assert event.payload["profile_name"] == "Maria"


def test_a_group_message_is_acknowledged_and_not_stored(client, bot, queued):
    payload = {
        "message": {"conversation": "oi"},
        "number": "120363025555555555@g.us",
        "isGroup": True,
    }
    assert wt.post(client, payload).status_code == 202
    assert stored() == []


# --- Refused: nothing stored ----------------------------------------------------------------


def test_a_wrong_signature_is_refused_with_401(client, bot, queued, refusal_reasons):
    response = wt.post(client, wt.text_payload("oi"), secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert refusal_reasons() == ["bad_signature"]
    assert stored() == [] and queued == []


# 30 s past the 300 s limit either way: a loaded machine takes seconds between the two clocks.
@pytest.mark.parametrize("age", [330, -330, 3600])
def test_a_stale_or_future_timestamp_is_refused_as_a_replay(
    client, bot, queued, age, refusal_reasons
):
    old = int(timezone.now().timestamp()) - age
    response = wt.post(client, wt.text_payload("oi"), timestamp=old)  # correctly signed
    assert response.status_code == 401
    assert refusal_reasons() == ["stale_timestamp"]
    assert stored() == []


def test_a_timestamp_within_five_minutes_is_accepted(client, bot, queued):
    recent = int(timezone.now().timestamp()) - 290
    assert wt.post(client, wt.text_payload("oi"), timestamp=recent).status_code == 202


@pytest.mark.parametrize("drop", ["X-Timestamp", "X-Signature"])
def test_missing_signature_headers_are_refused_with_401(client, bot, queued, drop, refusal_reasons):
    body = json.dumps(wt.text_payload("oi")).encode()
    headers = wt.signed_headers(body)
    headers.pop(drop)
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    response = client.post(PATHS[0], data=body, content_type="application/json", **meta)
    assert response.status_code == 401
    assert refusal_reasons() == ["missing_signature"]
    assert stored() == []


def test_a_message_without_the_customers_number_is_refused_with_400_saying_so(client, bot, queued):
    response = wt.post(client, {"message": {"conversation": "oi"}})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "missing_number"
    assert "number" in body["detail"]
    assert stored() == []


def test_malformed_json_is_refused_with_400(client, bot, queued):
    response = wt.post(
        client,
        b'{"message": {"conversation": "oi"',
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
    assert stored() == []


def test_malformed_json_with_a_wrong_signature_is_refused_as_unauthenticated(client, bot, queued):
    response = wt.post(client, b"{broken", secret="not-the-secret")
    assert response.status_code == 401


def test_a_bot_without_a_shared_secret_accepts_nothing(client, tenant, queued, refusal_reasons):
    lonely = bots.chatbot_create(tenant=tenant, name="Sem segredo", provider="whaticket")
    response = wt.post(client, wt.text_payload("oi"), path=f"/webhook/whaticket/{lonely.pk}")
    assert response.status_code == 401
    assert refusal_reasons() == ["no_shared_secret"]


def test_an_unknown_bot_id_gets_the_same_401_as_a_wrong_signature(client, bot, queued):
    # 404 for a bot that does not exist would let anyone list the bots before any signature.
    unknown = wt.post(client, wt.text_payload("oi"), path="/webhook/whaticket/999999")
    forged = wt.post(
        client, wt.text_payload("oi"), path=f"/webhook/whaticket/{bot.pk}", secret="chute"
    )
    assert unknown.status_code == forged.status_code == 401
    assert unknown.content == forged.content


# --- Which bot ------------------------------------------------------------------------------


def test_the_webhook_token_picks_the_bot_on_the_single_url(client, bot, tenant, queued):
    bots.chatbot_update(
        chatbot=bot, provider_config={"base_url": "http://x", "webhook_token": "loja-a"}
    )
    other = bots.chatbot_create(
        tenant=tenant,
        name="Loja B",
        provider="whaticket",
        provider_config={"webhook_token": "loja-b"},
        provider_secrets={"shared_secret": wt.SHARED_SECRET},
    )
    response = wt.post(client, wt.text_payload("oi"), headers={"X-Webhook-Token": "loja-b"})
    assert response.status_code == 202
    assert [e.chatbot_id for e in stored()] == [other.pk]

    unknown = wt.post(client, wt.text_payload("oi"), headers={"X-Webhook-Token": "loja-z"})
    assert unknown.status_code == 401


def test_a_webhook_token_that_does_not_match_the_bot_in_the_url_is_refused(
    client, bot, queued, refusal_reasons
):
    bots.chatbot_update(
        chatbot=bot, provider_config={"base_url": "http://x", "webhook_token": "loja-a"}
    )
    response = wt.post(
        client,
        wt.text_payload("oi"),
        path=f"/webhook/whaticket/{bot.pk}",
        headers={"X-Webhook-Token": "outra"},
    )
    assert response.status_code == 401
    assert refusal_reasons() == ["bad_token"]


def test_without_id_or_token_the_bot_whose_secret_verifies_gets_it(client, bot, tenant, queued):
    other = bots.chatbot_create(
        tenant=tenant,
        name="Loja B",
        provider="whaticket",
        provider_secrets={"shared_secret": "segredo-da-loja-b"},
    )
    assert wt.post(client, wt.text_payload("oi"), secret="segredo-da-loja-b").status_code == 202
    assert wt.post(client, wt.text_payload("oi")).status_code == 202
    assert sorted(e.chatbot_id for e in stored()) == sorted([other.pk, bot.pk])
    assert wt.post(client, wt.text_payload("oi"), secret="de-ninguem").status_code == 401


def test_without_id_or_token_no_request_is_tried_against_another_tenants_secrets(
    client, bot, other_tenant, queued, refusal_reasons
):
    elsewhere = bots.chatbot_create(
        tenant=other_tenant,
        name="Clínica",
        provider="whaticket",
        provider_config={"webhook_token": "clinica"},
        provider_secrets={"shared_secret": "segredo-da-clinica"},
    )

    ambiguous = wt.post(client, wt.text_payload("oi"))  # signed with `bot`'s secret

    assert ambiguous.status_code == 401
    assert refusal_reasons() == ["ambiguous_tenant"]
    assert stored() == []
    # Naming the bot, by the URL or by its token, still works.
    by_id = wt.post(client, wt.text_payload("oi"), path=f"/webhook/whaticket/{bot.pk}")
    by_token = wt.post(
        client,
        wt.text_payload("oi"),
        secret="segredo-da-clinica",
        headers={"X-Webhook-Token": "clinica"},
    )
    assert (by_id.status_code, by_token.status_code) == (202, 202)
    assert sorted(e.chatbot_id for e in stored()) == sorted([bot.pk, elsewhere.pk])


def test_a_webhook_token_shared_by_two_bots_routes_nowhere(
    client, bot, tenant, queued, refusal_reasons
):
    bots.chatbot_update(chatbot=bot, provider_config={"base_url": "http://x", "webhook_token": "t"})
    bots.chatbot_create(
        tenant=tenant,
        name="Loja B",
        provider="whaticket",
        provider_config={"webhook_token": "t"},
        provider_secrets={"shared_secret": wt.SHARED_SECRET},
    )

    response = wt.post(client, wt.text_payload("oi"), headers={"X-Webhook-Token": "t"})

    assert response.status_code == 401
    assert refusal_reasons() == ["ambiguous_token"]
    assert stored() == []


# --- The original system's HMAC example -----------------------------------------------------


def test_the_original_hmac_example_verifies():
    assert (
        whaticket.signature(secret=EXAMPLE_SECRET, timestamp=EXAMPLE_TIMESTAMP, body=EXAMPLE_BODY)
        == EXAMPLE_SIGNATURE
    )


def test_the_original_example_request_is_accepted_at_its_time(tenant):
    bot = bots.chatbot_create(
        tenant=tenant,
        name="Original",
        provider="whaticket",
        provider_secrets={"shared_secret": EXAMPLE_SECRET},
    )
    headers = CaseInsensitiveDict(
        {"X-Timestamp": EXAMPLE_TIMESTAMP, "X-Signature": EXAMPLE_SIGNATURE}
    )
    with time_machine.travel(int(EXAMPLE_TIMESTAMP) + 10, tick=False):
        whaticket.WhaticketProvider().verify_request(bot, headers=headers, body=EXAMPLE_BODY)
    with pytest.raises(WebhookRefused) as refused:  # the same request an hour later: a replay
        whaticket.WhaticketProvider().verify_request(bot, headers=headers, body=EXAMPLE_BODY)
    assert refused.value.reason == "stale_timestamp"


def _readme_example() -> str:
    readme = (Path(django_settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(# whaticket-hmac-example\n.*?)```", readme, re.S)
    assert match, "README.md must carry the Whaticket HMAC example (# whaticket-hmac-example)"
    return match.group(1)


def test_the_readme_example_runs_as_written_and_prints_the_signature():
    code = _readme_example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (our own README)
    assert out.getvalue().strip() == EXAMPLE_SIGNATURE
    assert EXAMPLE_SIGNATURE in (Path(django_settings.BASE_DIR) / "README.md").read_text()


# --- Sending --------------------------------------------------------------------------------


def test_it_sends_digits_and_the_text_with_the_bearer_token(bot, fake_whaticket):
    bots.chatbot_update(
        chatbot=bot, provider_config={"base_url": fake_whaticket.url, "whatsapp_id": "3"}
    )
    result = whaticket.WhaticketProvider().send(bot, "5511987654321", Text(body="Seu pedido saiu!"))
    (record,) = fake_whaticket.sends
    assert record.headers["Authorization"] == f"Bearer {wt.TOKEN}"
    assert record.json == {"number": "5511987654321", "body": "Seu pedido saiu!", "whatsappId": 3}
    assert result.external_id.startswith("whaticket.")  # the community edition returns no id


PHOTO = b"\xff\xd8\xff\xe0" + b"fake jpeg bytes" * 100


def test_a_photo_link_is_uploaded_as_the_medias_file_with_its_caption(
    bot, fake_whaticket, fake_files
):
    bots.chatbot_update(
        chatbot=bot, provider_config={"base_url": fake_whaticket.url, "whatsapp_id": "3"}
    )
    link = fake_files.add("pizza.jpg", PHOTO, "image/jpeg")

    whaticket.WhaticketProvider().send(
        bot, "5511987654321", Media(media_type="image", link=link, caption="Nossa pizza")
    )

    (record,) = fake_whaticket.sends
    assert record.headers["Authorization"] == f"Bearer {wt.TOKEN}"
    assert record.json == {"number": "5511987654321", "body": "Nossa pizza", "whatsappId": "3"}
    assert record.files == [("medias", "pizza.jpg", "image/jpeg", PHOTO)]


def test_a_document_keeps_the_filename_it_was_given(bot, fake_whaticket, fake_files):
    link = fake_files.add("c4a1.pdf", b"%PDF-1.4 cardapio", "application/pdf")

    whaticket.WhaticketProvider().send(
        bot, "5511987654321", Media(media_type="document", link=link, filename="cardapio.pdf")
    )

    (record,) = fake_whaticket.sends
    assert record.files == [("medias", "cardapio.pdf", "application/pdf", b"%PDF-1.4 cardapio")]


def test_a_file_that_cannot_be_fetched_goes_as_caption_and_link(
    bot, fake_whaticket, fake_files, monkeypatch, caplog
):
    monkeypatch.setattr(whaticket, "MEDIA_MAX_BYTES", 1000)
    too_big = f"{fake_files.url}/big/5000"
    missing = f"{fake_files.url}/files/nao-existe.jpg"

    for link in (too_big, missing):
        whaticket.WhaticketProvider().send(
            bot, "5511987654321", Media(media_type="video", link=link, caption="Veja")
        )

    assert [(r.json["body"], r.files) for r in fake_whaticket.sends] == [
        (f"Veja\n{too_big}", []),
        (f"Veja\n{missing}", []),
    ]
    assert "could not be downloaded" in caplog.text


def test_a_link_to_an_internal_address_is_never_fetched(
    bot, fake_whaticket, fake_files, fake_dns, settings
):
    # The policy on, as in production; only the Whaticket server is trusted, by its name.
    settings.EGRESS_ALLOW_PRIVATE = False
    settings.EGRESS_ALLOWED_HOSTS = ["whaticket.interno"]
    fake_dns.add("whaticket.interno", "127.0.0.1")
    port = fake_whaticket.url.rsplit(":", 1)[1]
    bot.provider_config = {"base_url": f"http://whaticket.interno:{port}"}
    bot.save()
    link = fake_files.add("segredo.jpg", PHOTO, "image/jpeg")

    whaticket.WhaticketProvider().send(
        bot, "5511987654321", Media(media_type="image", link=link, caption="Foto")
    )

    (record,) = fake_whaticket.sends
    assert record.files == []
    assert record.json["body"] == f"Foto\n{link}"


def test_the_24_hour_window_does_not_stop_a_whaticket_bot(
    bot, tenant, fake_whaticket, celery_eager, django_capture_on_commit_callbacks
):
    cliente = cliente_upsert_from_whatsapp(tenant=tenant, wa_id="5511987654321")
    Conversation.objects.create(
        tenant=tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(days=3),
    )
    with django_capture_on_commit_callbacks(execute=True):
        row = send_to_customer(chatbot=bot, cliente=cliente, message=Text(body="Seu pedido saiu!"))
    row.refresh_from_db()
    assert row.status == Message.Status.SENT
    assert [r.json["body"] for r in fake_whaticket.sends] == ["Seu pedido saiu!"]
