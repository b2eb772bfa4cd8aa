"""Evolution API (v2, with the v1.8 differences): an open-source WhatsApp Web gateway
(Evolution API: https://doc.evolution-api.com/).

Per-bot settings:

* `Chatbot.provider_config`: `base_url` (the Evolution server), `instance` (the instance
  name), optional `version` (2 by default; 1 for v1.8 servers);
* `Chatbot.provider_secrets`: `apikey` (the global API key or the instance token: the
  `apikey` header of every call), `webhook_secret` (the header Evolution sends us, see
  below) and optional `jwt_key`.

Where the calls go, the instance management (create, QR code, connection state, webhook
subscription) and the webhook's JWT are in `chatbots.providers.evolution_instance`; this
module sends, verifies and parses.

Inbound: `POST /api/chatbots/webhook/evolution/<bot id>/`. Evolution does not sign its
webhooks, so `evolution_connect` configures the instance's webhook with a per-bot secret
header, `X-Webhook-Secret: <webhook_secret>`, compared in constant time. When the bot has
a `jwt_key`, Evolution is given that instead and sends `Authorization: Bearer <HS256 JWT>`
(claims iat, exp = iat + 600, app "evolution"; `evolution_instance.jwt_decode_hs256`).
v1.8 webhooks take no headers: for v1 bots the secret travels in the URL (`?secret=`), the
only option that version has.

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
`sendMedia`, and a file the business attached (`Media.stored`) as base64 there (audio
through `sendWhatsAppAudio`). Buttons and lists are not reliable on WhatsApp Web connections, so they go
out as numbered text (`Provider.degrade`).
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots.providers import baileys, evolution_instance
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
    json_body,
    stored_file,
)
from chatbots.wire import (
    CONNECTION_FIELD,
    InboundAccountEvent,
    InboundMessage,
    InboundStatus,
    Media,
    Outbound,
)
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
# The instance's WhatsApp Web connection opened, closed or is reconnecting (Evolution API:
# https://doc.evolution-api.com/v2/en/configuration/webhooks, CONNECTION_UPDATE): kept as an
# account event (chatbots.account_events.CONNECTION_FIELD) so the owners hear of a
# number that disconnected.
CONNECTION = "connection.update"
# Baileys' ack names as Evolution sends them -> our Message statuses. PENDING (not yet on
# WhatsApp's server) and DELETED say nothing about delivery and are ignored.
UPDATE_STATUSES = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
    "ERROR": "failed",
}
# The connection states of an instance (Evolution API: https://doc.evolution-api.com/v2/api-reference/instance-controller/connection-state).
KNOWN_STATES = frozenset({"open", "close", "connecting"})
# Kinds sendMedia takes by link (v2 `mediatype`); audio and stickers have their own
# endpoints and go out as text with the link.
MEDIA_TYPES = frozenset({"image", "video", "document"})


# --- The provider ----------------------------------------------------------------------------


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _event_name(raw: Any) -> str:
    """ "MESSAGES_UPSERT", "messages-upsert" and "messages.upsert" are one event."""
    return str(raw or "").strip().lower().replace("_", ".").replace("-", ".")


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
        v1 = evolution_instance.api_version(chatbot) == 1
        stored = stored_file(message) if isinstance(message, Media) and message.stored else None
        if stored is not None and message.media_type == "audio":
            # An audio file has its own route, the file as base64 (v1 wraps it).
            encoded = base64.b64encode(stored[1]).decode()
            path = "sendWhatsAppAudio"
            body: dict[str, Any] = (
                {"number": number, "audioMessage": {"audio": encoded}}
                if v1
                else {"number": number, "audio": encoded}
            )
        elif (
            isinstance(message, Media)
            and (message.link or stored)
            and (message.media_type in MEDIA_TYPES)
        ):
            # `media` takes a link or the file as base64 (sendMedia's schema).
            media: dict[str, Any] = {
                "mediatype": message.media_type,
                "media": base64.b64encode(stored[1]).decode() if stored else message.link,
            }
            if stored:
                media["mimetype"] = stored[2]
            if message.caption:
                media["caption"] = message.caption
            if message.filename or (stored and message.media_type == "document"):
                media["fileName"] = message.filename or stored[0]
            path = "sendMedia"
            body = {"number": number, "mediaMessage": media} if v1 else {"number": number, **media}
        else:
            # Buttons, lists, templates, and media sendMedia does not take by link.
            text = as_text(message).body
            path = "sendText"
            body = (
                {"number": number, "textMessage": {"text": text}}
                if v1
                else {"number": number, "text": text}
            )
        response = evolution_instance.call(
            chatbot, "POST", f"/message/{path}/{{instance}}", body=body
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
        return evolution_instance.error_from_response(response)

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        """`GET /instance/connectionState/{instance}`: the cheapest authenticated call."""
        try:
            state = evolution_instance.instance_state(chatbot=chatbot)
        except ProviderError as exc:
            return False, connection_failure(chatbot, exc, provider=str(self.label))
        if state is None:
            return False, _(
                "A instância “%(name)s” não existe na Evolution. Salve a conexão em Robôs › "
                "Conexão no painel de atendimento (ou rode `manage.py evolution_connect "
                "--bot %(bot)s`)."
            ) % {"name": evolution_instance.instance_name(chatbot), "bot": chatbot.pk}
        if state == "open":
            return True, _("Conectado: a instância “%(name)s” está aberta (open).") % {
                "name": evolution_instance.instance_name(chatbot)
            }
        # Only the states Evolution documents are repeated: the rest of the answer is the
        # server's, and stays in the log.
        shown = state if state in KNOWN_STATES else _("desconhecido")
        return False, _(
            "A instância “%(name)s” está “%(state)s”: leia o código QR em Robôs › Conexão no "
            "painel de atendimento (ou com `manage.py evolution_connect --bot %(bot)s`)."
        ) % {"name": evolution_instance.instance_name(chatbot), "state": shown, "bot": chatbot.pk}

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
                claims = evolution_instance.jwt_decode_hs256(auth[7:].strip(), secrets["jwt_key"])
            except evolution_instance.JWTError as exc:
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
        if not given and evolution_instance.api_version(chatbot) == 1:
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
        if event not in (UPSERT, UPDATE, CONNECTION):
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
        if event == CONNECTION:
            record = parse_connection(_dict(items[0]), bot_key=bot_key, at=payload.get("date_time"))
            return [(record, payload)] if record is not None else []
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


def parse_connection(data: dict, *, bot_key: str, at: Any = None) -> InboundAccountEvent | None:
    """A `connection.update` `data` object ({"instance", "state", "statusReason"}) as an
    account event of the bot, or None when the state is not one Evolution documents."""
    state = str(data.get("state") or "")
    if state not in KNOWN_STATES:
        return None
    timestamp = parse_datetime(str(at)) if isinstance(at, str) else None
    if timestamp is None or timezone.is_naive(timestamp):
        timestamp = timezone.now()
    reason = data.get("statusReason")
    return InboundAccountEvent(
        provider=PROVIDER,
        external_id=f"evo-conn:{bot_key}:{state}:{timestamp.isoformat()}",
        bot_key=bot_key,
        timestamp=timestamp,
        field=CONNECTION_FIELD,
        waba_id="",
        value={"state": state, "status_reason": reason if isinstance(reason, int) else None},
    )


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
    if isinstance(extra.get("media"), dict):
        # Evolution hands a received file by its message id
        # (evolution_instance.media_fetch): that is the media's id here.
        extra["media"]["id"] = external_id[:255]
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
