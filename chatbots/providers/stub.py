"""The stub provider: sends nothing, records what it would send. Default of the embedded mode.

The record is the outbound Message row itself: the outbox marks it `sent` with the id
returned here ("stub.<uuid>") and keeps the full normalized message in `payload`, so the
simulator, the admin or another process reads what "went out" from the database. Each send
also writes one log line (ids and kind; the text stays out of INFO logs, which must not
carry personal data — see config/logging.py — and goes to DEBUG).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy

from chatbots.messages import OUTBOUND_KINDS, Outbound
from chatbots.providers.base import Provider, SendResult

if TYPE_CHECKING:
    from chatbots.models import Chatbot

logger = logging.getLogger(__name__)

ID_PREFIX = "stub."


class StubProvider(Provider):
    key = "stub"
    label = gettext_lazy("Simulador (não envia nada, só registra)")
    native_kinds = frozenset(OUTBOUND_KINDS)

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
