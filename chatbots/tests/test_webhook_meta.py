"""The Meta webhook endpoint: the subscription check (GET) and the signature of every POST."""

from __future__ import annotations

import pytest

from chatbots.models import Chatbot, InboundEvent
from chatbots.tests.webhook_meta_support import (
    SECRET,
    URL,
    envelope,
    messages_change,
    post,
    text_message,
)
from tests.factories import TenantFactory

# --- GET verification -------------------------------------------------------------------------


def test_it_answers_the_challenge_for_a_bots_verify_token(client, bot):
    response = client.get(
        URL,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "token-da-padaria",
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


def test_it_answers_the_challenge_for_the_global_verify_token(client, db, settings):
    settings.WHATSAPP_VERIFY_TOKEN = "token-global"

    response = client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "token-global", "hub.challenge": "42"}
    )

    assert response.status_code == 200
    assert response.content == b"42"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "token-da-padaria", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "wrong-mode", "empty-token", "no-token", "nothing"],
)
def test_it_refuses_verification_without_a_matching_token(client, bot, settings, params):
    settings.WHATSAPP_VERIFY_TOKEN = ""

    response = client.get(URL, params)

    assert response.status_code == 403
    assert b"1" not in response.content


def test_it_refuses_the_verify_token_of_an_inactive_bot(client, bot):
    bot.active = False
    bot.save()

    response = client.get(
        URL,
        {"hub.mode": "subscribe", "hub.verify_token": "token-da-padaria", "hub.challenge": "7"},
    )

    assert response.status_code == 403


# --- POST: the signature (refusals store nothing) ---------------------------------------------


def test_it_refuses_a_missing_signature(client, bot, queued):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S1")])), secret=None
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "sha1=abc", "garbage", "sha256=", "sha256=ünïcode"],
    ids=["wrong-hex", "wrong-algorithm", "no-prefix", "empty", "non-ascii"],
)
def test_it_refuses_a_wrong_signature(client, bot, queued, signature):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S2")])), signature=signature
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_body_signed_with_another_secret(client, bot, queued):
    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.S3")])), secret="other"
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_uses_the_global_app_secret_for_a_bot_without_one(client, bot, queued, settings):
    bot.app_secret = ""
    bot.save()
    settings.WHATSAPP_APP_SECRET = "global-app-secret"
    payload = envelope(messages_change(messages=[text_message("wamid.G1")]))

    assert post(client, payload, secret=SECRET).status_code == 401
    assert post(client, payload, secret="global-app-secret").status_code == 200
    assert InboundEvent.objects.count() == 1


def test_it_refuses_when_no_secret_is_configured_at_all(client, bot, queued, settings):
    bot.app_secret = ""
    bot.save()
    settings.WHATSAPP_APP_SECRET = ""

    response = post(
        client, envelope(messages_change(messages=[text_message("wamid.N1")])), secret=""
    )

    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_it_refuses_a_batch_naming_bots_with_different_secrets(client, bot, queued):
    # One signature can only match one key, and Meta signs with the app's secret: a batch
    # naming bots of two different apps cannot be genuine for both.
    Chatbot.objects.create(
        tenant=TenantFactory(slug="outra"),
        name="Outra",
        provider="meta",
        phone_number_id="999000111",
        app_secret="secret-of-another-app",
    )
    payload = envelope(
        messages_change(messages=[text_message("wamid.M1")]),
        messages_change("999000111", messages=[text_message("wamid.M2")]),
    )

    for secret in (SECRET, "secret-of-another-app"):
        response = post(client, payload, secret=secret)
        assert response.status_code == 401
    assert not InboundEvent.objects.exists()


# --- POST: batches naming no bot --------------------------------------------------------------


def test_it_acknowledges_account_updates_without_a_global_secret(client, db, settings, queued):
    settings.WHATSAPP_APP_SECRET = ""
    payload = envelope({"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}})

    response = post(client, payload, secret=None)

    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


def test_it_checks_account_updates_against_the_global_secret_when_set(client, db, settings, queued):
    settings.WHATSAPP_APP_SECRET = "global-app-secret"
    payload = envelope({"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}})

    forged = post(client, payload, secret="not-the-secret")
    genuine = post(client, payload, secret="global-app-secret")

    assert forged.status_code == 401
    assert genuine.status_code == 200
