"""Evolution API: a bot's instance, its management calls, and the token of its webhooks
(Evolution API: https://doc.evolution-api.com/).

An Evolution "instance" is one WhatsApp Web connection on an Evolution server. A bot names
it in `Chatbot.provider_config` (`base_url`, `instance`, optional `version`: 2 by default, 1
for v1.8 servers) and authenticates with `provider_secrets.apikey` (the global API key or
the instance token), sent as the `apikey` header of every call.

Here: where a bot's calls go (`api_url`, `api_headers`, `call`, `error_from_response`), the
instance management that pairs a bot with its phone (create, connect and QR code,
connection state, webhook subscription: the management commands evolution_connect and
evolution_status), and the HS256 token Evolution sends to our webhook when the bot has a
`jwt_key`. Sending and reading webhooks is the provider, chatbots.providers.evolution,
which builds on this module.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jwt
from django.utils.translation import gettext as _

from chatbots.providers.base import (
    ProviderError,
    chatbot_config,
    chatbot_secrets,
    http_call,
    not_configured,
    status_error,
)
from config import http

if TYPE_CHECKING:
    from chatbots.models import Chatbot

# Evolution's JWT lives 600 s; a little leeway absorbs clock differences.
JWT_LEEWAY_SECONDS = 60
WEBHOOK_EVENTS = ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "CONNECTION_UPDATE"]


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


# --- Where a bot's calls go ------------------------------------------------------------------


def api_version(chatbot: Chatbot) -> int:
    """1 for Evolution v1.x servers (provider_config.version), else 2."""
    raw = str(chatbot_config(chatbot).get("version") or "2").strip().lower().lstrip("v")
    return 1 if raw.startswith("1") else 2


def instance_name(chatbot: Chatbot) -> str:
    name = str(chatbot_config(chatbot).get("instance") or "").strip()
    if not name:
        raise not_configured(
            chatbot, _("o nome da instância da Evolution (provider_config.instance)")
        )
    return name


def api_url(chatbot: Chatbot, path: str) -> str:
    """The bot's server + `path`, with `{instance}` replaced by its instance's name."""
    base = str(chatbot_config(chatbot).get("base_url") or "").strip().rstrip("/")
    if not base:
        raise not_configured(chatbot, _("a URL da Evolution (provider_config.base_url)"))
    return base + path.replace("{instance}", quote(instance_name(chatbot), safe=""))


def api_headers(chatbot: Chatbot) -> dict[str, str]:
    apikey = chatbot_secrets(chatbot).get("apikey", "")
    if not apikey:
        raise not_configured(chatbot, _("a API key da Evolution (segredo “apikey”)"))
    return {"apikey": apikey, "Content-Type": "application/json"}


def error_from_response(response: http.HTTPResponse) -> ProviderError:
    """Evolution errors: `{"status", "error", "response": {"message": [...]}}`.
    401 (API key refused), 404 (no such instance) and 400 (a number not on WhatsApp:
    `exists: false`) are permanent; 429 and 5xx (a connection closing or reconnecting)
    are retried."""
    error = status_error(response)
    try:
        data = _dict(response.json())
    except ValueError:
        data = {}
    messages = _dict(data.get("response")).get("message")
    detail = json.dumps(messages, ensure_ascii=False)[:300] if messages else error.detail
    code = {401: "unauthorized", 403: "forbidden", 404: "instance_not_found"}.get(
        response.status_code, error.code
    )
    if isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("exists") is False for m in messages
    ):
        code = "not_on_whatsapp"
    return ProviderError(code, detail, retryable=error.retryable, retry_after=error.retry_after)


def call(chatbot: Chatbot, method: str, path: str, *, body: Any = None) -> http.HTTPResponse:
    """One call to the bot's Evolution server; ProviderError when it does not answer 2xx."""
    return http_call(
        method,
        api_url(chatbot, path),
        headers=api_headers(chatbot),
        json=body,
        error_from_response=error_from_response,
    )


def media_fetch(chatbot: Chatbot, *, media_id: str, max_bytes: int) -> tuple[bytes, str]:
    """The plain bytes and MIME type of a file a customer sent, by its message id.

    `POST /chat/getBase64FromMediaMessage/{instance}` with `{"message": {"key": {"id"}},
    "convertToMp4": false}` answers `{mediaType, fileName, mimetype, base64, ...}`
    (https://github.com/EvolutionAPI/evolution-api, src/api/routes/chat.router.ts; the same
    route in v1.8). Evolution decrypts WhatsApp's media itself, so its CDN link in the
    webhook is never fetched. Raises config.http's errors: HTTPStatusError (retryable for
    5xx and 429), HTTPRefused for a bot that is not configured or a URL the egress policy
    refuses, HTTPTooLarge for a file over `max_bytes`.
    """
    try:
        url = api_url(chatbot, "/chat/getBase64FromMediaMessage/{instance}")
        headers = api_headers(chatbot)
    except ProviderError as exc:
        raise http.HTTPRefused(exc.detail) from exc
    body = {"message": {"key": {"id": media_id}}, "convertToMp4": False}
    # base64 is 4/3 of the file, plus the JSON around it.
    response = http.tenant_request(
        "POST", url, json=body, headers=headers, max_bytes=max_bytes * 4 // 3 + 64 * 1024
    )
    if not response.ok:
        raise http.HTTPStatusError(response)
    data = _dict(response.json() if response.content else {})
    encoded = str(data.get("base64") or "")
    if encoded.startswith("data:"):
        encoded = encoded.split(",", 1)[-1]
    try:
        content = base64.b64decode(encoded, validate=False)
    except (ValueError, TypeError) as exc:
        raise http.HTTPRefused(_("A Evolution devolveu um arquivo ilegível.")) from exc
    if not content:
        raise http.HTTPRefused(_("A Evolution não devolveu o arquivo."))
    if len(content) > max_bytes:
        raise http.HTTPTooLarge(f"{len(content)} bytes, over {max_bytes}")
    return content, str(data.get("mimetype") or "").split(";")[0].strip()


def _answer(response: http.HTTPResponse) -> dict:
    return _dict(response.json() if response.content else {})


# --- Instance management (evolution_connect, evolution_status) -------------------------------


def instance_state(*, chatbot: Chatbot) -> str | None:
    """The instance's connection state ("open", "close", "connecting"), None if it does not
    exist. Raises ProviderError for anything else (bad API key, server down)."""
    try:
        response = call(chatbot, "GET", "/instance/connectionState/{instance}")
    except ProviderError as exc:
        if exc.code == "instance_not_found":
            return None
        raise
    data = _answer(response)
    state = _dict(data.get("instance")).get("state") or data.get("state") or ""
    return str(state)


def instance_create(*, chatbot: Chatbot) -> dict:
    """`POST /instance/create`: a WhatsApp Web (Baileys) instance named after the bot's config."""
    body: dict[str, Any] = {"instanceName": instance_name(chatbot), "qrcode": True}
    if api_version(chatbot) == 2:
        body["integration"] = "WHATSAPP-BAILEYS"
    return _dict(call(chatbot, "POST", "/instance/create", body=body).json())


def instance_connect(*, chatbot: Chatbot, number: str = "") -> dict:
    """`GET /instance/connect/{instance}`: the QR code (`code`, `base64` PNG) and, when a
    phone number is given, a `pairingCode` to type on the phone instead."""
    path = "/instance/connect/{instance}"
    if number:
        path += f"?number={quote(number, safe='')}"
    return _answer(call(chatbot, "GET", path))


def webhook_set(*, chatbot: Chatbot, url: str, headers: dict[str, str]) -> dict:
    """`POST /webhook/set/{instance}`: messages and their statuses to `url` with `headers`
    (v2); v1.8 takes no headers (the caller puts the secret in `url`)."""
    if api_version(chatbot) == 1:
        body: dict[str, Any] = {
            "enabled": True,
            "url": url,
            "webhook_by_events": False,
            "webhook_base64": False,
            "events": WEBHOOK_EVENTS,
        }
    else:
        body = {
            "webhook": {
                "enabled": True,
                "url": url,
                "headers": headers,
                "byEvents": False,
                "base64": False,
                "events": WEBHOOK_EVENTS,
            }
        }
    return _answer(call(chatbot, "POST", "/webhook/set/{instance}", body=body))


def webhook_find(*, chatbot: Chatbot) -> dict:
    """`GET /webhook/find/{instance}`: the webhook as Evolution has it."""
    data = _answer(call(chatbot, "GET", "/webhook/find/{instance}"))
    return _dict(data.get("webhook")) or data


# --- The webhook's HS256 token --------------------------------------------------------------
#
# Given a `jwt_key`, Evolution signs each webhook with `Authorization: Bearer <JWT>`:
# HS256, claims iat, exp = iat + 600, app "evolution".


class JWTError(ValueError):
    """A token that is malformed, wrongly signed, expired or not yet valid."""


def jwt_encode_hs256(claims: dict[str, Any], key: str) -> str:
    """An HS256 JWT of `claims` (what Evolution sends; used by tests and the README)."""
    return jwt.encode(claims, key, algorithm="HS256")


def jwt_decode_hs256(token: str, key: str, *, leeway: int = JWT_LEEWAY_SECONDS) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `key`; JWTError otherwise.

    Only HS256 is accepted (never "none" or another algorithm named by the token), `exp` is
    required and may not have passed, `iat`/`nbf` may not lie in the future (each with
    `leeway` seconds). Other registered claims (aud, iss, sub, jti) are not checked:
    Evolution sends none of them.
    """
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            leeway=leeway,
            options={
                "require": ["exp"],
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise JWTError(str(exc)) from None
