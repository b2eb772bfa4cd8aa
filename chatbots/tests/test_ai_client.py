"""The Gemini client: the real google-genai SDK against a fake Gemini API on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from chatbots.ai import client
from chatbots.ai.prompt import ANSWER_SCHEMA

TURNS = [("user", "Vocês abrem domingo?")]


def ask():
    return client.generate_json(system="Responda em JSON.", turns=TURNS, schema=ANSWER_SCHEMA)


def test_it_returns_the_structured_answer_and_the_tokens_used(fake_gemini):
    fake_gemini.answer_with(answer="Abrimos das 8h às 12h.", intent="outro", tokens=(321, 45))

    reply = ask()

    assert reply.data["answer"] == "Abrimos das 8h às 12h."
    assert reply.tokens == 366
    [request] = fake_gemini.requests
    assert request.headers["x-goog-api-key"] == "test-gemini-key"
    assert request.model == "gemini-2.5-flash"
    assert request.system == "Responda em JSON."
    assert request.user_texts == ["Vocês abrem domingo?"]
    config = request.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["required"] == ["answer", "intent", "polarity", "offer"]


def test_a_503_then_a_200_recovers_within_the_retry_budget(fake_gemini):
    fake_gemini.fail_next(status=503)
    fake_gemini.answer_with(answer="Sim, abrimos.")

    started = time.monotonic()
    reply = ask()
    elapsed = time.monotonic() - started

    assert reply.data["answer"] == "Sim, abrimos."
    assert [r.status for r in fake_gemini.requests] == [503, 200]
    # One backoff of 0.5 s plus at most 0.5 s of jitter (client.RETRY_*).
    assert elapsed < 2.0


def test_a_429_is_retried_too(fake_gemini):
    fake_gemini.fail_next(status=429)

    ask()

    assert [r.status for r in fake_gemini.requests] == [429, 200]


def test_a_model_that_stays_unavailable_raises_after_the_configured_attempts(fake_gemini):
    fake_gemini.fail_next(status=503, times=5)

    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "unavailable"
    assert len(fake_gemini.requests) == 2  # GEMINI_RETRY_ATTEMPTS in the fixture


def test_a_request_the_api_refuses_is_not_retried(fake_gemini):
    fake_gemini.fail_next(status=400)

    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "rejected"
    assert len(fake_gemini.requests) == 1


def test_a_slow_model_times_out_as_a_model_error_not_an_httpx_one(fake_gemini, settings):
    settings.GEMINI_TIMEOUT_SECONDS = 0.3
    settings.GEMINI_RETRY_ATTEMPTS = 1
    fake_gemini.delay_next(1.5)

    started = time.monotonic()
    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "timeout"
    assert time.monotonic() - started < 1.2


def test_an_answer_that_is_not_geminis_json_is_a_model_error(fake_gemini):
    fake_gemini.malformed_next(body="<html><body>502 Bad Gateway</body></html>")

    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "malformed"


def test_structured_output_that_is_not_an_object_is_a_model_error(fake_gemini):
    fake_gemini.respond(lambda request: ["not", "an", "object"])

    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "malformed"
    assert raised.value.tokens == 120  # billed all the same


def test_without_a_key_nothing_is_called(fake_gemini, settings):
    settings.GEMINI_API_KEY = ""

    with pytest.raises(client.ModelError) as raised:
        ask()

    assert raised.value.kind == "not_configured"
    assert fake_gemini.requests == []
