"""The provider contract: how a WhatsApp gateway's webhooks come in and messages go out.

One module per provider, registered in `chatbots.providers.registry`. Nothing above this
layer sees a provider's JSON.

`send` returns the provider's id for the message or raises ProviderError. ProviderError
says whether a retry can help (`retryable`: throughput limits, 5xx, timeouts) or not
(permanent: bad number, closed window, bad token), and carries the provider's error code
so it is stored on the message and counted by code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from chatbots.messages import Outbound

if TYPE_CHECKING:
    from chatbots.models import Chatbot


class ProviderError(Exception):
    def __init__(
        self, code: str, detail: str = "", *, retryable: bool, retry_after: float | None = None
    ):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = str(code)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class SendResult:
    external_id: str


class Provider:
    key: ClassVar[str]
    label: ClassVar[str]
    #: Outbound kinds the provider sends natively; others degrade to their text preview.
    native_kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        raise NotImplementedError

    def mark_read(self, chatbot: Chatbot, external_id: str) -> None:
        """Tell the provider an inbound message was read (blue ticks). Optional."""
