"""The peer: the same menu bot written with pywa (a WhatsApp Cloud API framework, PyPI),
served by Flask under the same gunicorn.conf.py, sending to the same fake Graph server.

    gunicorn -c gunicorn.conf.py benchmarks.peer_pywa:app      (bench venv: pywa, Flask)

It answers the benchmark's payloads with the same replies as the product's `menu` flow:
a text ("oi", "menu", anything) gets the greeting with the three reply buttons, a tap on
"Horário e endereço" gets the opening-hours text; like the product it marks every
message read. It checks the X-Hub-Signature-256 with the app secret (pywa's
validate_updates) and deduplicates repeated updates in memory (pywa's default). It keeps
no state and stores nothing: pywa calls the handlers inside the webhook request, so the
reply is sent before Meta gets its 200.

Configuration (environment): WHATSAPP_GRAPH_API_URL (the fake), PEER_PHONE_NUMBER_ID,
PEER_APP_SECRET, PEER_ACCESS_TOKEN.
"""

from __future__ import annotations

import os

import flask
import httpx
from pywa import WhatsApp, filters, types
from pywa.utils import UserIdentifier

# The product's menu flow texts (chatbots/starter_flows.py menu_flow), so both send the same bytes.
MENU_TEXT = "Olá! 👋 Sou o assistente virtual. Como posso ajudar?"
MENU_BUTTONS = [
    ("info", "Horário e endereço"),
    ("humano", "Falar com atendente"),
    ("sair", "Encerrar"),
]
INFO_TEXT = (
    "Atendemos de segunda a sábado, das 9h às 18h. "
    "Digite *menu* a qualquer momento para voltar ao início."
)
GRAPH_API_VERSION = os.environ.get("WHATSAPP_GRAPH_API_VERSION", "v23.0").lstrip("v")

app = flask.Flask(__name__)


@app.get("/healthz/live")
def live():
    return {"status": "ok"}


wa = WhatsApp(
    phone_id=os.environ.get("PEER_PHONE_NUMBER_ID", "100000009"),
    token=os.environ.get("PEER_ACCESS_TOKEN", "bench-access-token"),
    server=app,
    webhook_endpoint="/api/chatbots/webhook/",
    verify_token="bench-verify-token",
    app_secret=os.environ.get("PEER_APP_SECRET", "bench-app-secret-0123456789abcdef"),
    validate_updates=True,
    session=httpx.Client(timeout=10),
    api_version=GRAPH_API_VERSION,
    # Reply to the phone number, as the product does (chatbots.outbox.sending.recipient_of).
    user_identifier_priority=(
        UserIdentifier.WA_ID,
        UserIdentifier.BSUID,
        UserIdentifier.PARENT_BSUID,
    ),
)
# pywa always talks to graph.facebook.com; point its client at the fake Graph server.
wa.api._session.base_url = (
    f"{os.environ.get('WHATSAPP_GRAPH_API_URL', 'http://127.0.0.1:9').rstrip('/')}"
    f"/v{GRAPH_API_VERSION}"
)


def _menu(update) -> None:
    update.reply_text(
        MENU_TEXT,
        buttons=[types.Button(title=title, callback_data=key) for key, title in MENU_BUTTONS],
    )


@wa.on_message(filters.text)
def on_text(_: WhatsApp, msg: types.Message) -> None:
    msg.mark_as_read()
    _menu(msg)


@wa.on_callback_button()
def on_button(_: WhatsApp, btn: types.CallbackButton) -> None:
    btn.mark_as_read()
    if btn.data == "info":
        btn.reply_text(INFO_TEXT)
    else:
        _menu(btn)
