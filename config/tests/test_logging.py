"""Log lines: JSON with the request id, phone numbers masked, message texts dropped."""

from __future__ import annotations

import io
import json
import logging

import pytest

from config.logging import JsonFormatter, RequestIdFilter


@pytest.fixture
def log_lines():
    """What the console handler of settings.LOGGING would print, as parsed JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_the_response_echoes_a_valid_request_id(client):
    response = client.get("/healthz/live", HTTP_X_REQUEST_ID="abc-123.XYZ")
    assert response["X-Request-ID"] == "abc-123.XYZ"


@pytest.mark.parametrize("incoming", ["", "tem espaço", "x" * 65, "<script>"])
def test_it_replaces_a_missing_or_unsafe_request_id(client, incoming):
    response = client.get("/healthz/live", HTTP_X_REQUEST_ID=incoming)
    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


def test_a_request_log_line_carries_the_request_id_and_no_phone_number(client, db, log_lines):
    client.get("/nao-existe/5511987654321/", HTTP_X_REQUEST_ID="req-42")
    lines = [line for line in log_lines() if line["logger"] == "django.request"]
    assert lines, "Django logs a 404 as a warning"
    line = lines[0]
    assert line["level"] == "WARNING"
    assert line["request_id"] == "req-42"
    dumped = json.dumps(line)
    assert "5511987654321" not in dumped
    assert "*********4321" in line["message"]


def test_it_masks_phone_numbers_as_people_type_them(log_lines):
    logging.getLogger("chatbots").warning("cliente +55 (11) 98765-4321 ligou de 11 8765-4321")
    message = log_lines()[0]["message"]
    assert "98765" not in message
    assert "8765-4321" not in message
    assert message.count("4321") == 2


def test_it_drops_message_texts_and_masks_other_extras(log_lines):
    logging.getLogger("chatbots").info(
        "inbound",
        extra={
            "text": "meu CPF é 123.456.789-00",
            "body": {"texto": "segredo"},
            "chatbot": 7,
            "contact": "5511987654321",
            "context": {"telefone": "5511987654321", "text": "oi", "tries": 2},
        },
    )
    line = log_lines()[0]
    assert "text" not in line
    assert "body" not in line
    assert line["chatbot"] == 7
    assert line["contact"] == "*********4321"
    assert line["context"] == {"telefone": "*********4321", "tries": 2}
    assert "CPF" not in json.dumps(line)


def test_it_masks_secrets_in_messages(log_lines):
    logging.getLogger("chatbots").warning("call failed: access_token=EAAG123abc&x=1")
    assert "EAAG123abc" not in log_lines()[0]["message"]


def test_a_line_outside_a_request_has_no_request_id(log_lines):
    logging.getLogger("celery").warning("worker started")
    assert "request_id" not in log_lines()[0]


def test_an_error_response_log_line_carries_the_request_id(client, db, log_lines):
    # A view that *returns* a 503 (no exception) is logged by Django after the middleware
    # chain has finished, outside the request's context.
    response = client.get("/healthz", HTTP_X_REQUEST_ID="req-503")
    assert response.status_code == 503  # no worker heartbeat in tests
    line = next(x for x in log_lines() if x["logger"] == "django.request")
    assert line["request_id"] == "req-503"
