"""MetaProvider against a fake Graph API on 127.0.0.1: requests it makes, errors it maps."""

from __future__ import annotations

import pytest

from chatbots.models import Chatbot
from chatbots.providers.base import ProviderError
from chatbots.providers.meta import MetaProvider
from chatbots.wire import Template, Text
from tests.fakes.graph import unused_url

TO = "5511987654321"


@pytest.fixture
def bot():
    # Unsaved: the provider only reads the credentials, no database needed.
    return Chatbot(
        name="Padaria", provider="meta", phone_number_id="106540352242922", access_token="EAAG-tk"
    )


def send(bot, message=None) -> str:
    return MetaProvider().send(bot, TO, message or Text(body="Oi, Maria!")).external_id


def test_it_posts_to_the_phone_numbers_messages_endpoint_with_the_token(fake_graph, bot, settings):
    external_id = send(bot)

    (request,) = fake_graph.requests
    assert request.path == f"/{settings.WHATSAPP_GRAPH_API_VERSION}/106540352242922/messages"
    assert request.headers["Authorization"] == "Bearer EAAG-tk"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["to"] == "+5511987654321"
    assert request.json["text"] == {"body": "Oi, Maria!", "preview_url": False}
    assert external_id == request.response["messages"][0]["id"]
    assert external_id.startswith("wamid.")


def test_it_adds_the_plus_once_and_leaves_user_ids_alone(fake_graph, bot):
    MetaProvider().send(bot, "+5511987654321", Text(body="a"))
    MetaProvider().send(bot, "US.13491208655302741918", Text(body="b"))

    assert [r.json["to"] for r in fake_graph.sends] == ["+5511987654321", "US.13491208655302741918"]


def test_it_sends_read_receipts(fake_graph, bot):
    MetaProvider().mark_read(bot, "wamid.IN1")

    (request,) = fake_graph.reads
    assert request.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN1",
    }
    assert request.headers["Authorization"] == "Bearer EAAG-tk"


@pytest.mark.parametrize("code", [130429, 131056, 131057, 4, 80007, 2])
def test_throughput_and_temporary_errors_are_retryable(fake_graph, bot, code):
    fake_graph.fail_next(code=code, details="Tente mais tarde")

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert caught.value.retryable is True
    assert caught.value.code == str(code)
    assert "Tente mais tarde" in caught.value.detail


@pytest.mark.parametrize(
    "code",
    [
        131026,
        131047,
        131048,
        131049,
        131050,
        131051,
        100,
        131008,
        131009,
        190,
        132000,
        132001,
        132015,
    ],
)
def test_permanent_errors_are_not_retryable(fake_graph, bot, code):
    fake_graph.fail_next(code=code, details="Message Undeliverable.")

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert caught.value.retryable is False
    assert caught.value.code == str(code)
    assert "Message Undeliverable." in caught.value.detail


def test_it_branches_on_metas_code_not_on_the_http_status(fake_graph, bot):
    # A throughput error is retryable even when it comes with a 400, a bad parameter is not
    # even when it comes with a 500.
    fake_graph.fail_next(code=130429, status=400)
    fake_graph.fail_next(code=131009, status=500)

    with pytest.raises(ProviderError) as first:
        send(bot)
    with pytest.raises(ProviderError) as second:
        send(bot)

    assert (first.value.retryable, second.value.retryable) == (True, False)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (400, False), (403, False)]
)
def test_unknown_codes_follow_the_http_status(fake_graph, bot, status, retryable):
    fake_graph.fail_next(code=999999, status=status)

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert caught.value.retryable is retryable


def test_a_server_error_without_a_graph_body_is_retryable(fake_graph, bot):
    fake_graph.respond_next(status=502, body="<html>Bad Gateway</html>")

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert (caught.value.code, caught.value.retryable) == ("http_502", True)


def test_the_pair_rate_limit_waits_at_least_six_seconds(fake_graph, bot):
    fake_graph.fail_next(code=131056)

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert caught.value.retry_after >= 6


def test_a_timeout_is_retryable(fake_graph, bot, settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.2
    fake_graph.delay_next(1.0)

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert (caught.value.code, caught.value.retryable) == ("timeout", True)


def test_a_refused_connection_is_retryable(bot, settings):
    settings.WHATSAPP_GRAPH_API_URL = unused_url()

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert (caught.value.code, caught.value.retryable) == ("connection_error", True)


def test_a_bot_without_credentials_fails_without_calling_meta(fake_graph, bot):
    bot.access_token = ""

    with pytest.raises(ProviderError) as caught:
        send(bot, Template(name="hello_world"))

    assert (caught.value.code, caught.value.retryable) == ("not_configured", False)
    assert "token" in caught.value.detail
    assert fake_graph.requests == []


def test_an_answer_without_a_message_id_is_not_retried(fake_graph, bot):
    # 200 means accepted: sending again could deliver the message twice.
    fake_graph.respond_next(status=200, body={"messaging_product": "whatsapp"})

    with pytest.raises(ProviderError) as caught:
        send(bot)

    assert (caught.value.code, caught.value.retryable) == ("invalid_response", False)
