"""The stub provider: sends nothing, records what it would send. Default of the embedded mode.

The record is the outbound Message row itself: the outbox marks it `sent` with the id
returned here ("stub.<uuid>") and keeps the full normalized message in `payload`, so the
simulator, the admin or another process reads what "went out" from the database. Each send
also writes one log line (ids and kind; the text stays out of INFO logs, which must not
carry personal data — see config/logging.py — and goes to DEBUG).

The stub stands in for Meta in local runs, so it keeps Meta's rules: every kind is
"native" and the 24-hour window applies. Its inbound side (for tools and the provider
conformance suite; no URL is routed to it) takes the normalized shape as JSON,
`{"id", "from", "text", "reply_id"?, "name"?, "timestamp"?}`, signed like Meta's webhook
but in `X-Stub-Signature` (hex HMAC-SHA256 of the raw body) with the bot's
`provider_secrets.webhook_secret`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots.providers.base import (
    Parsed,
    Provider,
    SendResult,
    WebhookRefused,
    chatbot_secrets,
    json_body,
)
from chatbots.wire import OUTBOUND_KINDS, InboundMessage, Outbound
from clientes.phones import InvalidPhone, normalize_phone

if TYPE_CHECKING:
    from chatbots.models import Chatbot

logger = logging.getLogger(__name__)

ID_PREFIX = "stub."
SIGNATURE_HEADER = "X-Stub-Signature"


def stub_signature(*, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class StubProvider(Provider):
    key = "stub"
    label = gettext_lazy("Simulador (não envia nada, só registra)")
    native_kinds = frozenset(OUTBOUND_KINDS)
    customer_window = True

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        external_id = f"{ID_PREFIX}{uuid.uuid4().hex}"
        logger.info(
            "stub provider: message recorded, not sent",
            extra={
                "chatbot_id": chatbot.pk,
                "recipient": to,
                "kind": message.kind,
                "external_id": external_id,
            },
        )
        logger.debug("stub provider: content of %s: %s", external_id, message.preview)
        return SendResult(external_id=external_id)

    def mark_read(self, chatbot: Chatbot, external_id: str) -> None:
        logger.debug("stub provider: would mark %s as read", external_id)

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        return True, _("Simulador: não há conexão externa; as mensagens só são registradas.")

    def verify_request(
        self,
        chatbot: Chatbot | None,
        *,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, str] | None = None,
    ) -> None:
        secret = chatbot_secrets(chatbot).get("webhook_secret", "") if chatbot else ""
        if not secret:
            raise WebhookRefused(401, "no_webhook_secret", "the bot has no webhook_secret")
        given = (headers.get(SIGNATURE_HEADER) or "").strip().lower()
        expected = stub_signature(secret=secret, body=body)
        if not given or not hmac.compare_digest(
            expected.encode(), given.encode("utf-8", "replace")
        ):
            raise WebhookRefused(401, "bad_signature", f"{SIGNATURE_HEADER} does not match")

    def parse_request(
        self, chatbot: Chatbot | None, *, headers: Mapping[str, str], body: bytes
    ) -> list[Parsed]:
        payload = json_body(body)
        try:
            phone = normalize_phone(str(payload.get("from") or ""))
        except InvalidPhone as exc:
            raise WebhookRefused(400, "invalid_number", str(exc)) from None
        if not payload.get("id"):
            raise WebhookRefused(400, "missing_id", "`id` is required")
        try:
            when = datetime.fromtimestamp(int(payload["timestamp"]), tz=UTC)
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            when = timezone.now()
        reply_id = str(payload.get("reply_id") or "")
        message = InboundMessage(
            provider=self.key,
            external_id=str(payload["id"]),
            bot_key=str(chatbot.pk) if chatbot is not None else "",
            timestamp=when,
            type="interactive" if reply_id else "text",
            from_phone=phone,
            profile_name=str(payload.get("name") or ""),
            text=str(payload.get("text") or ""),
            reply_id=reply_id,
        )
        return [(message, payload)]
