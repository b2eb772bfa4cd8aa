"""Evolution API (v2, with the v1.8 differences): an open-source WhatsApp Web gateway
(Evolution API: https://doc.evolution-api.com/).

Per-bot settings:

* `Chatbot.provider_config`: `base_url` (the Evolution server), `instance` (the instance
  name), optional `version` (2 by default; 1 for v1.8 servers);
* `Chatbot.provider_secrets`: `apikey` (the global API key or the instance token: the
  `apikey` header of every call), `webhook_secret` (the header Evolution sends us, see
  below) and optional `jwt_key`.

Inbound: `POST /api/chatbots/webhook/evolution/<bot id>/`. Evolution does not sign its
webhooks (§4.2), so `evolution_connect` configures the instance's webhook with a
per-bot secret header, `X-Webhook-Secret: <webhook_secret>`, compared in constant time.
When the bot has a `jwt_key`, Evolution is given that instead and sends
`Authorization: Bearer <HS256 JWT>` (claims iat, exp = iat + 600, app "evolution"); we
verify it with hmac/hashlib (`jwt_decode_hs256`). v1.8 webhooks take no headers: for v1
bots the secret travels in the URL (`?secret=`), the only option that version has.

`messages.upsert` carries messages and `messages.update` the delivery status of ours
(`SERVER_ACK` sent, `DELIVERY_ACK` delivered, `READ`/`PLAYED` read, `ERROR` failed: the
same forward-only rules as Meta's statuses, chatbots.inbound.apply_status); every other
event is acknowledged and dropped.
`fromMe` upserts (our own sends echoed back, or the business typing on its phone) are
stored as ECHO_TYPE events that never drive the flow: `chatbots.echoes` tells them apart
and hands the conversation to a person for the latter. Groups are ignored; `@lid`
senders are resolved to their phone through `key.remoteJidAlt`.

Outbound: `POST {base}/message/sendText/{instance}` with the `apikey` header and
`{"number", "text"}` (v1: `{"number", "textMessage": {"text"}}`); media by link through
`sendMedia`. Buttons and lists are not reliable on WhatsApp Web connections, so they go
out as numbered text (`Provider.degrade`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots.providers import baileys
from chatbots.providers.base import (
    ECHO_TYPE,
    Parsed,
    Provider,
    ProviderError,
    SendResult,
    WebhookRefused,
    as_text,
    chatbot_config,
    chatbot_secrets,
    json_body,
    not_configured,
)
from chatbots.providers.registry import register
from chatbots.wire import InboundMessage, InboundStatus, Media, Outbound
from clientes.phones import InvalidPhone, normalize_phone
from config import http

if TYPE_CHECKING:
    from chatbots.models import Chatbot

logger = logging.getLogger(__name__)

PROVIDER = "evolution"
SECRET_HEADER = "X-Webhook-Secret"
SECRET_QUERY = "secret"  # v1.8 only: its webhooks carry no custom headers
UPSERT = "messages.upsert"
UPDATE = "messages.update"
# Baileys' ack names as Evolution sends them -> our Message statuses. PENDING (not yet on
# WhatsApp's server) and DELETED say nothing about delivery and are ignored.
UPDATE_STATUSES = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
    "ERROR": "failed",
}
# Evolution's JWT lives 600 s (§4.2); a little leeway absorbs clock differences.
JWT_LEEWAY_SECONDS = 60
# Kinds sendMedia takes by link (v2 `mediatype`); audio and stickers have their own
# endpoints and go out as text with the link.
MEDIA_TYPES = frozenset({"image", "video", "document"})
WEBHOOK_EVENTS = ["MESSAGES_UPSERT", "MESSAGES_UPDATE"]


# --- HS256 JWT (no dependency: three base64url parts and one HMAC) -------------------------


class JWTError(ValueError):
    """A token that is malformed, wrongly signed, expired or not yet valid."""


def _b64url_decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise JWTError("not base64url") from None


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_encode_hs256(claims: dict[str, Any], key: str) -> str:
    """An HS256 JWT of `claims` (what Evolution sends; used by tests and the README)."""
    header = _b64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    sig = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url_encode(sig)}"


def jwt_decode_hs256(
    token: str, key: str, *, now: float | None = None, leeway: int = JWT_LEEWAY_SECONDS
) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with `key`; JWTError otherwise.

    Only HS256 is accepted (never "none" or another algorithm named by the token), the
    signature is compared in constant time, `exp` is required and `iat`/`nbf` may not lie
    in the future (each with `leeway` seconds).
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("a JWT has three parts")
    try:
        header = json.loads(_b64url_decode(parts[0]))
    except ValueError:
        raise JWTError("header is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise JWTError("only HS256 tokens are accepted")
    expected = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
        raise JWTError("signature does not match")
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except ValueError:
        raise JWTError("claims are not JSON") from None
    if not isinstance(claims, dict):
        raise JWTError("claims are not an object")
    now = time.time() if now is None else now
    try:
        exp = float(claims["exp"])
    except (KeyError, TypeError, ValueError):
        raise JWTError("exp is required") from None
    if now > exp + leeway:
        raise JWTError("token expired")
    for name in ("iat", "nbf"):
        if name in claims:
            try:
                issued = float(claims[name])
            except (TypeError, ValueError):
                raise JWTError(f"{name} is not a number") from None
            if issued > now + leeway:
                raise JWTError(f"{name} is in the future")
    return claims


# --- The provider ----------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


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


def _event_name(raw: Any) -> str:
    """ "MESSAGES_UPSERT", "messages-upsert" and "messages.upsert" are one event."""
    return str(raw or "").strip().lower().replace("_", ".").replace("-", ".")


@register
class EvolutionProvider(Provider):
    key = PROVIDER
    label = gettext_lazy("Evolution API")
    native_kinds = frozenset({"text", "media"})
    customer_window = False

    # --- Outbound ------------------------------------------------------------------------

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        number = "".join(ch for ch in (to or "") if ch.isdigit())
        if not number:
            raise ProviderError(
                "no_phone",
                _("A Evolution só envia para números de telefone; este cliente não tem um."),
                retryable=False,
            )
        v1 = api_version(chatbot) == 1
        if isinstance(message, Media) and message.link and message.media_type in MEDIA_TYPES:
            media: dict[str, Any] = {"mediatype": message.media_type, "media": message.link}
            if message.caption:
                media["caption"] = message.caption
            if message.filename:
                media["fileName"] = message.filename
            path = "sendMedia"
            body: dict[str, Any] = (
                {"number": number, "mediaMessage": media} if v1 else {"number": number, **media}
            )
        else:
            # Buttons, lists, templates, and media sendMedia does not take by link.
            text = as_text(message).body
            path = "sendText"
            body = (
                {"number": number, "textMessage": {"text": text}}
                if v1
                else {"number": number, "text": text}
            )
        response = self.call(
            "POST",
            self._url(chatbot, f"/message/{path}/{{instance}}"),
            headers=self._headers(chatbot),
            json=body,
        )
        try:
            external_id = str(_dict(_dict(response.json()).get("key")).get("id") or "")
        except ValueError:
            external_id = ""
        if not external_id:
            # 2xx means Evolution took it: sending again could duplicate the message.
            raise ProviderError(
                "invalid_response",
                _("A Evolution aceitou o envio mas não devolveu o ID da mensagem: %(body)s")
                % {"body": response.text[:300]},
                retryable=False,
            )
        return SendResult(external_id=external_id)

    def error_from_response(self, response: http.HTTPResponse) -> ProviderError:
        """Evolution errors: `{"status", "error", "response": {"message": [...]}}`.
        401 (API key refused), 404 (no such instance) and 400 (a number not on WhatsApp:
        `exists: false`) are permanent; 429 and 5xx (a connection closing or reconnecting)
        are retried."""
        error = super().error_from_response(response)
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

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        """`GET /instance/connectionState/{instance}`: the cheapest authenticated call."""
        try:
            state = instance_state(chatbot=chatbot)
        except ProviderError as exc:
            return False, f"{exc.code}: {exc.detail}" if exc.detail else exc.code
        if state is None:
            return False, _(
                "A instância “%(name)s” não existe na Evolution. Rode "
                "`manage.py evolution_connect --bot %(bot)s`."
            ) % {"name": instance_name(chatbot), "bot": chatbot.pk}
        if state == "open":
            return True, _("Conectado: a instância “%(name)s” está aberta (open).") % {
                "name": instance_name(chatbot)
            }
        return False, _(
            "A instância “%(name)s” está “%(state)s”: leia o QR code com "
            "`manage.py evolution_connect --bot %(bot)s`."
        ) % {"name": instance_name(chatbot), "state": state, "bot": chatbot.pk}

    def _url(self, chatbot: Chatbot, path: str) -> str:
        base = str(chatbot_config(chatbot).get("base_url") or "").strip().rstrip("/")
        if not base:
            raise not_configured(chatbot, _("a URL da Evolution (provider_config.base_url)"))
        return base + path.replace("{instance}", quote(instance_name(chatbot), safe=""))

    def _headers(self, chatbot: Chatbot) -> dict[str, str]:
        apikey = chatbot_secrets(chatbot).get("apikey", "")
        if not apikey:
            raise not_configured(chatbot, _("a API key da Evolution (segredo “apikey”)"))
        return {"apikey": apikey, "Content-Type": "application/json"}

    # --- Inbound -------------------------------------------------------------------------

    def verify_request(
        self,
        chatbot: Chatbot | None,
        *,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, str] | None = None,
    ) -> None:
        if chatbot is None:
            raise WebhookRefused(404, "unknown_bot", "no Evolution bot for this request")
        secrets = chatbot_secrets(chatbot)
        if secrets.get("jwt_key"):
            auth = (headers.get("Authorization") or "").strip()
            if not auth.lower().startswith("bearer "):
                raise WebhookRefused(
                    401, "missing_token", "Authorization: Bearer <JWT> is required"
                )
            try:
                claims = jwt_decode_hs256(auth[7:].strip(), secrets["jwt_key"])
            except JWTError as exc:
                raise WebhookRefused(401, "bad_token", str(exc)) from None
            if claims.get("app") != "evolution":
                raise WebhookRefused(401, "bad_token", "the JWT is not from Evolution (app claim)")
            return
        secret = secrets.get("webhook_secret", "")
        if not secret:
            logger.error(
                "evolution webhook refused: the bot has no webhook_secret nor jwt_key",
                extra={"chatbot_id": chatbot.pk},
            )
            raise WebhookRefused(
                401, "no_webhook_secret", "the bot has no webhook_secret configured"
            )
        given = (headers.get(SECRET_HEADER) or "").strip()
        if not given and api_version(chatbot) == 1:
            given = str((query or {}).get(SECRET_QUERY) or "").strip()
        if not given:
            raise WebhookRefused(401, "missing_secret", f"{SECRET_HEADER} header is required")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise WebhookRefused(401, "bad_secret", f"{SECRET_HEADER} does not match")

    def parse_request(
        self, chatbot: Chatbot | None, *, headers: Mapping[str, str], body: bytes
    ) -> list[Parsed]:
        payload = json_body(body)
        event = _event_name(payload.get("event"))
        if event not in (UPSERT, UPDATE):
            logger.debug("evolution event ignored", extra={"event": event[:64]})
            return []
        instance = str(payload.get("instance") or "")
        expected = str(chatbot_config(chatbot).get("instance") or "") if chatbot else ""
        if instance and expected and instance != expected:
            # This bot's URL configured on another instance: replying would go out from
            # the wrong number, so nothing is stored.
            logger.warning(
                "evolution webhook from another instance ignored",
                extra={"chatbot_id": chatbot.pk if chatbot else None},
            )
            return []
        items = payload.get("data")
        items = items if isinstance(items, list) else [items]
        bot_key = str(chatbot.pk) if chatbot is not None else ""
        parsed: list[Parsed] = []
        for item in items:
            if not isinstance(item, dict):
                raise WebhookRefused(400, "malformed", "`data` must be an object")
            record = (
                parse_upsert(item, bot_key=bot_key)
                if event == UPSERT
                else parse_update(item, bot_key=bot_key)
            )
            if record is not None:
                parsed.append((record, item))
        return parsed


def parse_update(data: dict, *, bot_key: str) -> InboundStatus | None:
    """One `messages.update` `data` object as an InboundStatus of one of our messages, or
    None when it is not about a message we sent or says nothing about its delivery.

    v2 sends `{keyId, remoteJid, fromMe, status, messageId (Evolution's row id), ...}`;
    v1.8 spreads the message key instead: `{id, remoteJid, fromMe, status, datetime (ms)}`.
    """
    status = UPDATE_STATUSES.get(str(data.get("status") or "").upper())
    external_id = str(data.get("keyId") or data.get("id") or "")
    remote = str(data.get("remoteJid") or "")
    if status is None or not external_id or data.get("fromMe") is not True:
        return None  # customers' messages get updates too (read by the business, deleted)
    if baileys.is_group_or_broadcast(remote):
        return None
    seconds = baileys.timestamp_seconds(data.get("timestamp"))
    if seconds is None and (millis := baileys.timestamp_seconds(data.get("datetime"))):
        seconds = millis // 1000
    when = baileys.moment(seconds)
    return InboundStatus(
        provider=PROVIDER,
        external_id=external_id[:200],
        bot_key=bot_key,
        status=status,
        timestamp=when,
        recipient=baileys.jid_user(remote) if remote else "",
        error_code="evolution_error" if status == "failed" else "",
        error_title=_("A Evolution informou erro no envio.") if status == "failed" else "",
    )


def parse_upsert(data: dict, *, bot_key: str) -> InboundMessage | None:
    """One `messages.upsert` `data` object as an InboundMessage, or None when it is not a
    customer's message we keep (groups, broadcasts, no id, no sender)."""
    key = _dict(data.get("key"))
    remote = str(key.get("remoteJid") or "")
    external_id = str(key.get("id") or "")
    if not external_id or not remote or baileys.is_group_or_broadcast(remote):
        return None
    user_id = ""
    phone_jid = remote
    if remote.endswith("@lid"):
        # LID addressing (v2.3): the phone is in remoteJidAlt (senderPn on some builds).
        user_id = remote
        phone_jid = str(key.get("remoteJidAlt") or key.get("senderPn") or "")
    phone = ""
    if phone_jid:
        try:
            phone = normalize_phone("+" + baileys.jid_user(phone_jid))
        except InvalidPhone:
            phone = ""
    if not phone and not user_id:
        return None
    kind, text, reply_id, extra = baileys.content(data.get("message"))
    from_me = key.get("fromMe") is True
    if from_me:
        extra = {**extra, "echo_type": kind}
        kind = ECHO_TYPE
    if data.get("messageType"):
        extra["evolution_type"] = str(data["messageType"])[:64]
    when = baileys.moment(baileys.timestamp_seconds(data.get("messageTimestamp")))
    return InboundMessage(
        provider=PROVIDER,
        external_id=external_id[:255],
        bot_key=bot_key,
        timestamp=when,
        type=kind,
        from_phone=phone,
        from_user_id=user_id,
        # On fromMe upserts pushName is the business's own name, not the customer's.
        profile_name="" if from_me else str(data.get("pushName") or ""),
        text=text,
        reply_id=reply_id,
        data=extra,
    )


# --- Instance management (evolution_connect, evolution_status) -------------------------------


def _call(chatbot: Chatbot, method: str, path: str, *, body: Any = None) -> http.HTTPResponse:
    provider = EvolutionProvider()
    return provider.call(
        method, provider._url(chatbot, path), headers=provider._headers(chatbot), json=body
    )


def instance_state(*, chatbot: Chatbot) -> str | None:
    """The instance's connection state ("open", "close", "connecting"), None if it does not
    exist. Raises ProviderError for anything else (bad API key, server down)."""
    try:
        response = _call(chatbot, "GET", "/instance/connectionState/{instance}")
    except ProviderError as exc:
        if exc.code == "instance_not_found":
            return None
        raise
    data = _dict(response.json() if response.content else {})
    state = _dict(data.get("instance")).get("state") or data.get("state") or ""
    return str(state)


def instance_create(*, chatbot: Chatbot) -> dict:
    """`POST /instance/create`: a WhatsApp Web (Baileys) instance named after the bot's config."""
    body: dict[str, Any] = {"instanceName": instance_name(chatbot), "qrcode": True}
    if api_version(chatbot) == 2:
        body["integration"] = "WHATSAPP-BAILEYS"
    return _dict(_call(chatbot, "POST", "/instance/create", body=body).json())


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
    response = _call(chatbot, "POST", "/webhook/set/{instance}", body=body)
    return _dict(response.json() if response.content else {})


def webhook_find(*, chatbot: Chatbot) -> dict:
    """`GET /webhook/find/{instance}`: the webhook as Evolution has it."""
    response = _call(chatbot, "GET", "/webhook/find/{instance}")
    data = _dict(response.json() if response.content else {})
    return _dict(data.get("webhook")) or data


def instance_connect(*, chatbot: Chatbot, number: str = "") -> dict:
    """`GET /instance/connect/{instance}`: the QR code (`code`, `base64` PNG) and, when a
    phone number is given, a `pairingCode` to type on the phone instead."""
    path = "/instance/connect/{instance}"
    if number:
        path += f"?number={quote(number, safe='')}"
    response = _call(chatbot, "GET", path)
    return _dict(response.json() if response.content else {})
