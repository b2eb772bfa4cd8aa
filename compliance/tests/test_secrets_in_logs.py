"""Planted secrets never show up in logs, API responses, admin pages or exception reports,
and the customer's phone appears in logs only masked."""

from __future__ import annotations

import io
import logging

import pytest

from agenda.services import configuracao_set
from billing.services import api_key_create
from chatbots.models import Chatbot, Conversation
from chatbots.outbox import send_to_customer
from chatbots.wire import Text
from clientes.models import Cliente
from config.logging import JsonFormatter, PlainFormatter, RequestIdFilter
from tests.factories import ChatbotFactory

ACCESS_TOKEN = "EAAGplantedAccessToken0001xyz"
APP_SECRET = "planted-app-secret-0002"
CAL_KEY = "cal_live_planted_key_0003"
PHONE = "5511987654321"
PNID = "5000001"


@pytest.fixture
def captured():
    """Everything logged, at DEBUG and up, through both of the project's formatters."""
    stream = io.StringIO()
    handlers = []
    for formatter in (JsonFormatter(), PlainFormatter()):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdFilter())
        handler.setLevel(logging.DEBUG)
        handlers.append(handler)
    root = logging.getLogger()
    previous = root.level
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def planted(tenant, loja):
    bot = ChatbotFactory(
        tenant=tenant,
        name="Pizzaria",
        phone_number_id=PNID,
        access_token=ACCESS_TOKEN,
        app_secret=APP_SECRET,
        flow="pedidos",
    )
    config = configuracao_set(tenant=tenant, fonte="calcom", cal_api_key=CAL_KEY)
    _key, plain_key = api_key_create(tenant=tenant, name="integração")
    return {"bot": bot, "config": config, "api_key": plain_key}


def _assert_clean(text: str, planted: dict) -> None:
    for secret in (ACCESS_TOKEN, APP_SECRET, CAL_KEY, planted["api_key"]):
        assert secret not in text


def test_a_conversation_and_a_failed_send_log_no_secret_and_only_a_masked_phone(
    chat_with, planted, captured, django_capture_on_commit_callbacks, fake_graph
):
    chat_with(planted["bot"], phone=PHONE).text(f"oi, meu número é {PHONE}")
    assert fake_graph.sends  # the bot answered through the fake Graph API

    fake_graph.fail_next(code=190, details=f"Invalid OAuth access token {ACCESS_TOKEN}")
    cliente = Cliente.objects.get(telefone=PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        send_to_customer(chatbot=planted["bot"], cliente=cliente, message=Text(body="Oi de novo"))

    logs = captured.getvalue()
    assert "outbound message failed" in logs  # the failure was logged...
    _assert_clean(logs, planted)  # ...without the token Meta echoed back
    assert PHONE not in logs and PHONE[2:] not in logs


def test_admin_pages_and_api_answers_never_show_secrets(client, planted, captured, tenant, owner):
    client.force_login(owner)
    bot, config = planted["bot"], planted["config"]
    # A change through the API: its audit entry must not carry the secret either.
    api = client.__class__()
    api.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {planted['api_key']}"
    patched = api.patch(
        f"/api/chatbots/{bot.pk}/",
        data='{"access_token": "EAAGsecondPlantedToken0004"}',
        content_type="application/json",
    )
    assert patched.status_code == 200, patched.content

    pages = [
        client.get(f"/admin/chatbots/chatbot/{bot.pk}/change/"),
        client.get(f"/admin/agenda/configuracaoagenda/{config.pk}/change/"),
        client.get("/admin/compliance/auditlog/"),
        api.get("/api/chatbots/"),
        api.get(f"/api/chatbots/{bot.pk}/"),
        api.get("/api/compliance/audit/"),
    ]
    for audit_id in api.get("/api/compliance/audit/").json()["results"]:
        pages.append(client.get(f"/admin/compliance/auditlog/{audit_id['id']}/change/"))

    for page in pages:
        assert page.status_code == 200, page.request["PATH_INFO"]
        body = page.content.decode()
        _assert_clean(body, planted)
        assert "EAAGsecondPlantedToken0004" not in body
    _assert_clean(captured.getvalue(), planted)
    assert "EAAGsecondPlantedToken0004" not in captured.getvalue()


def test_an_exception_report_masks_the_secret_and_the_phone(client, planted, captured, settings):
    settings.ROOT_URLCONF = "compliance.tests.urls_boom"
    settings.DEBUG = False
    client.raise_request_exception = False

    response = client.get("/boom/", {"pnid": PNID})

    assert response.status_code == 500
    logs = captured.getvalue()
    assert "RuntimeError" in logs  # the traceback is there, for the operator
    _assert_clean(logs, planted)
    assert PHONE not in logs
    _assert_clean(response.content.decode(), planted)


def test_a_secret_in_a_log_message_is_masked_even_without_a_telltale_key(planted, captured):
    bot = Chatbot.objects.get(pk=planted["bot"].pk)  # read back: the formatter learns it
    logging.getLogger("chatbots.test").warning("provider said: %s", bot.access_token)
    logging.getLogger("chatbots.test").info("contexto", extra={"detail": bot.app_secret})
    _assert_clean(captured.getvalue(), planted)
    assert Conversation.objects.count() == 0
