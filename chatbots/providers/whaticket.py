"""Whaticket: the ticket inbox the original system was built around (Whaticket: https://github.com/canove/whaticket-community).

Per-bot settings:

* `Chatbot.provider_config`: `base_url` (the Whaticket backend, e.g.
  "https://api.whaticket.minhaempresa.com.br"), optional `whatsapp_id` (the connection to
  send from; Whaticket's default connection otherwise), optional `webhook_token` (a
  routing label for the single-URL webhook, see below; not a secret: the signature is);
* `Chatbot.provider_secrets`: `token` (the API token: `userApiToken` in the community
  edition, the connection's token in SaaS forks) and `shared_secret` (signs our webhook).

Inbound (the original system's contract): `POST /webhook/whaticket` or
`/api/chatbots/webhook/whaticket/`, with

* `X-Timestamp`: Unix seconds; more than MAX_SKEW_SECONDS away from our clock is refused
  as a replay;
* `X-Signature`: hex HMAC-SHA256 of f"{timestamp}.{raw body}" keyed with the bot's
  shared secret (`signature()`); a "sha256=" prefix is tolerated;
* optional `X-Webhook-Token`.

Every authentication failure answers 401 (missing headers, stale or unreadable timestamp,
wrong signature, wrong token), a body we cannot read 400, and nothing is stored. Which bot
a request is for is decided by the view (chatbots.webhooks): the id in the URL, else
the `X-Webhook-Token`, else the one Whaticket bot whose shared secret verifies the
signature (the original single-URL, single-bot set-up). A message with `fromMe: true` (or
`key.fromMe`) is one the connected number sent, from the phone or by our own send: stored
as an ECHO_TYPE event that never drives the flow (`chatbots.echoes` decides which).

A file the customer sent comes as Whaticket's `mediaUrl` (and `mediaType`): the app media
downloads it from there, under the egress policy.

Outbound: `POST {base_url}/api/messages/send` with `Authorization: Bearer <token>` and
`{"number": <digits>, "body": <text>}` (+ `whatsappId`). Buttons and lists go out as
numbered text (`Provider.degrade`). Media with a link is downloaded (config.http.download:
public addresses only, at most MEDIA_MAX_BYTES) and sent as the multipart field `medias`
with the caption as `body`; when the file cannot be fetched it goes as caption plus link,
as before, and the reason is logged. The community edition answers an empty 200 without a
message id, so the message gets our own id ("whaticket.<uuid>"); status webhooks do not
exist.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
    connection_failure,
    http_call,
    json_body,
    not_configured,
    stored_file,
)
from chatbots.wire import InboundMessage, Media, Outbound
from clientes.phones import InvalidPhone, normalize_phone
from config import http

if TYPE_CHECKING:
    from chatbots.models import Chatbot

logger = logging.getLogger(__name__)

PROVIDER = "whaticket"
# The original system's replay window: a signed request is good for five minutes either way.
MAX_SKEW_SECONDS = 300
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
TOKEN_HEADER = "X-Webhook-Token"
SEND_PATH = "/api/messages/send"
# WhatsApp's cap for video and audio (images: 5 MB; documents: 100 MB, sent as links here
# when larger than this, rather than held in a worker's memory).
MEDIA_MAX_BYTES = 16 * 1024 * 1024
ID_PREFIX = "whaticket."
_NON_DIGITS = re.compile(r"\D+")


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of f"{timestamp}.{body}" keyed with `secret` (the raw body bytes)."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _refuse(reason: str, detail: str) -> WebhookRefused:
    return WebhookRefused(401, reason, detail)


def _first(*values: Any) -> str:
    for value in values:
        if value not in (None, "", {}, []):
            return str(value)
    return ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


class WhaticketProvider(Provider):
    key = PROVIDER
    label = gettext_lazy("Whaticket")
    native_kinds = frozenset({"text", "media"})
    customer_window = False

    # --- Outbound ------------------------------------------------------------------------

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        number = _NON_DIGITS.sub("", to or "")
        if not number:
            raise ProviderError(
                "no_phone",
                _("O Whaticket só envia para números de telefone; este cliente não tem um."),
                retryable=False,
            )
        whatsapp_id = _first(chatbot_config(chatbot).get("whatsapp_id"))
        attachment = _attachment(message) if isinstance(message, Media) else None
        if attachment is not None:
            # multipart: every field is text; the file goes as `medias`.
            fields = {"number": number, "body": message.caption}
            if whatsapp_id:
                fields["whatsappId"] = whatsapp_id
            response = self.call(
                "POST",
                self._url(chatbot, SEND_PATH),
                headers=self._headers(chatbot),
                data=fields,
                files={"medias": attachment},
            )
            return SendResult(external_id=_sent_id(response))
        body: dict[str, Any] = {"number": number, "body": as_text(message).body}
        if whatsapp_id:
            body["whatsappId"] = int(whatsapp_id) if whatsapp_id.isdigit() else whatsapp_id
        response = self.call(
            "POST", self._url(chatbot, SEND_PATH), headers=self._headers(chatbot), json=body
        )
        return SendResult(external_id=_sent_id(response))

    def error_from_response(self, response: http.HTTPResponse) -> ProviderError:
        """Whaticket's AppError bodies are `{"error": "ERR_..."}`; the code is kept when
        there is one. 401/403 (token refused), 400 (bad number), 404 (wrong base URL) are
        permanent; 429 and 5xx (the WhatsApp session is reconnecting) are retried."""
        error = super().error_from_response(response)
        try:
            message = _dict(response.json()).get("error")
        except ValueError:
            message = None
        if isinstance(message, str) and message:
            code = message if re.fullmatch(r"[A-Z0-9_]{3,32}", message) else error.code
            error = ProviderError(
                code, message[:300], retryable=error.retryable, retry_after=error.retry_after
            )
        return error

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        """Whaticket's API has no read-only endpoint for its token. The cheapest safe call
        is the send endpoint with an EMPTY number: the token is checked first (401/403 when
        refused), then the number fails validation (400), so nothing is ever sent."""
        try:
            http_call(
                "POST",
                self._url(chatbot, SEND_PATH),
                headers=self._headers(chatbot),
                json={"number": "", "body": ""},
            )
        except ProviderError as exc:
            if exc.code not in ("http_400", "http_422"):
                return False, connection_failure(chatbot, exc, provider=str(self.label))
        return True, _("Conectado: o Whaticket aceitou o token (teste sem enviar mensagem).")

    def _url(self, chatbot: Chatbot, path: str) -> str:
        base = _first(chatbot_config(chatbot).get("base_url")).rstrip("/")
        if not base:
            raise not_configured(chatbot, _("a URL do Whaticket (provider_config.base_url)"))
        return base + path

    def _headers(self, chatbot: Chatbot) -> dict[str, str]:
        token = chatbot_secrets(chatbot).get("token", "")
        if not token:
            raise not_configured(chatbot, _("o token da API do Whaticket (segredo “token”)"))
        # No Content-Type: requests sets it (JSON, or multipart with its boundary).
        return {"Authorization": f"Bearer {token}"}

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
            raise WebhookRefused(404, "unknown_bot", "no Whaticket bot for this request")
        secret = chatbot_secrets(chatbot).get("shared_secret", "")
        if not secret:
            logger.error(
                "whaticket webhook refused: the bot has no shared_secret",
                extra={"chatbot_id": chatbot.pk},
            )
            raise _refuse("no_shared_secret", "the bot has no shared_secret configured")
        timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        given = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
        if not timestamp or not given:
            raise _refuse(
                "missing_signature", f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
            )
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise _refuse("bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds") from None
        if abs(time.time() - sent_at) > MAX_SKEW_SECONDS:
            raise _refuse(
                "stale_timestamp",
                f"{TIMESTAMP_HEADER} is more than {MAX_SKEW_SECONDS} s away from our clock "
                "(replayed request, or a sender clock out of sync)",
            )
        given = given.removeprefix("sha256=")
        expected = signature(secret=secret, timestamp=timestamp, body=body)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise _refuse("bad_signature", f"{SIGNATURE_HEADER} does not match")
        token = (headers.get(TOKEN_HEADER) or "").strip()
        configured = _first(chatbot_config(chatbot).get("webhook_token"))
        if token and configured and not hmac.compare_digest(token.encode(), configured.encode()):
            raise _refuse("bad_token", f"{TOKEN_HEADER} does not match this bot")

    def parse_request(
        self, chatbot: Chatbot | None, *, headers: Mapping[str, str], body: bytes
    ) -> list[Parsed]:
        payload = json_body(body)
        timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
        bot_key = str(chatbot.pk) if chatbot is not None else ""
        message = parse_payload(payload, bot_key=bot_key, timestamp=timestamp, body=body)
        return [] if message is None else [(message, payload)]


def parse_payload(
    payload: dict, *, bot_key: str, timestamp: str = "", body: bytes = b""
) -> InboundMessage | None:
    """The InboundMessage of one Whaticket webhook body; None for groups (not customers).

    Text from `message.conversation` (or `extendedTextMessage.text`, or a top-level
    `body`); interactive replies from `message.buttonsResponseMessage` /
    `listResponseMessage` (`selectedDisplayText` / `title`: Whaticket relays the title the
    customer tapped, which the handlers match like typed text). The customer's number from
    `number`, else `ticket.contact.number`, else `contact.number`: none is a 400.
    """
    message = _dict(payload.get("message"))
    ticket = _dict(payload.get("ticket"))
    contact = _dict(ticket.get("contact")) or _dict(payload.get("contact"))
    key = _dict(payload.get("key")) or _dict(message.get("key"))
    raw_number = _first(payload.get("number"), contact.get("number"), payload.get("from"))
    if not raw_number:
        raise WebhookRefused(
            400,
            "missing_number",
            "the payload carries no customer number: send `number` (digits with country "
            "code) or `ticket.contact.number`",
        )
    if (
        baileys.is_group_or_broadcast(raw_number)
        or payload.get("isGroup") is True
        or ticket.get("isGroup") is True
        or contact.get("isGroup") is True
    ):
        return None
    try:
        phone = normalize_phone(baileys.jid_user(raw_number))
    except InvalidPhone as exc:
        raise WebhookRefused(400, "invalid_number", str(exc)) from None

    kind, text, reply_id, data = baileys.content(message)
    kind, text, data = _media_link(payload, kind, text, data)
    if kind == "unsupported" and (fallback := _first(payload.get("body"), payload.get("text"))):
        kind, text, data = "text", fallback, {}
    from_me = payload.get("fromMe") is True or key.get("fromMe") is True
    if from_me:
        data = {**data, "echo_type": kind}
        kind = ECHO_TYPE
    external_id = _first(
        payload.get("id"),
        payload.get("messageId"),
        key.get("id"),
        _dict(payload.get("msg")).get("id"),
    )
    if not external_id:
        # No id in the payload: the signed bytes identify the delivery, so a retry of the
        # same request (same timestamp and body) is stored once.
        digest = hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()[:40]
        external_id = f"wt.{digest}"
    return InboundMessage(
        provider=PROVIDER,
        external_id=external_id[:255],
        bot_key=bot_key,
        timestamp=_timestamp(timestamp, payload),
        type=kind,
        from_phone=phone,
        profile_name=""
        if from_me
        else _first(payload.get("name"), contact.get("name"), payload.get("pushName")),
        text=text,
        reply_id=reply_id,
        data=data,
    )


# Whaticket's `mediaType` is the first half of the file's MIME type ("application" for a
# document): https://github.com/canove/whaticket-community, backend/src/services/
# WbotServices/wbotMessageListener.ts.
MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "application": "document"}


def _media_link(payload: dict, kind: str, text: str, data: dict) -> tuple[str, str, dict]:
    """A file Whaticket kept: its `mediaUrl` (absolute, on the Whaticket backend's `public/`
    folder: backend/src/models/Message.ts) is where media downloads it from. Without a
    Baileys media object, `mediaType` says the kind and `body` is the caption or name."""
    msg = _dict(payload.get("msg"))
    url = _first(payload.get("mediaUrl"), msg.get("mediaUrl"))
    if not url.startswith(("http://", "https://")):
        return kind, text, data
    if kind not in MEDIA_TYPES.values() and kind != "sticker":
        media_type = _first(payload.get("mediaType"), msg.get("mediaType")).split("/")[0]
        if media_type not in MEDIA_TYPES:
            return kind, text, data
        kind, text, data = MEDIA_TYPES[media_type], _first(payload.get("body")), {"media": {}}
    media = dict(_dict(data.get("media")))
    media["url"] = url[:2000]
    if kind == "document" and not media.get("filename") and text:
        media["filename"] = text[:255]
    return kind, text, {**data, "media": media}


def _timestamp(header: str, payload: dict) -> datetime:
    seconds = baileys.timestamp_seconds(payload.get("messageTimestamp"))
    if seconds is None:
        seconds = baileys.timestamp_seconds(header)
    return baileys.moment(seconds)


def _attachment(message: Media) -> tuple[str, bytes, str] | None:
    """(filename, bytes, content type) of a media message's link, or None to send it as
    caption plus link (no link, or the file could not be fetched: logged). A stored file
    (Media.stored) is read from the storage."""
    if message.stored:
        return stored_file(message)
    if not message.link:
        return None
    try:
        got = http.download(message.link, max_bytes=MEDIA_MAX_BYTES)
    except http.HTTPError as exc:
        logger.warning(
            "whaticket media sent as a link: the file could not be downloaded",
            extra={"reason": str(exc)[:300]},
        )
        return None
    return (message.filename or got.filename, got.content, got.content_type)


def _sent_id(response: http.HTTPResponse) -> str:
    """The message id when the Whaticket build returns one (some SaaS forks), else ours."""
    try:
        data = _dict(response.json())
    except ValueError:
        data = {}
    found = _first(
        data.get("id"), _dict(data.get("message")).get("id"), _dict(data.get("key")).get("id")
    )
    return found or f"{ID_PREFIX}{uuid.uuid4().hex}"
