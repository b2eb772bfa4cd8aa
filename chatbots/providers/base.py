"""The provider contract: how a WhatsApp gateway's webhooks come in and messages go out.

One module per provider, registered in `chatbots.providers.registry`. Nothing above this
layer sees a provider's JSON.

`send` returns the provider's id for the message or raises ProviderError. ProviderError
says whether a retry can help (`retryable`: throughput limits, 5xx, timeouts) or not
(permanent: bad number, closed window, bad token), and carries the provider's error code
so it is stored on the message and counted by code.

What every provider implements (the conformance suite, chatbots/tests/
test_provider_conformance.py, runs the same tests against each one):

* outbound: `send` (raises ProviderError), `mark_read` (optional), `degrade` (kinds outside
  `native_kinds` go out as their plain-text rendering: buttons and lists become numbered
  text, "1. Título", which `chatbots.numbered` maps back to the option's id when the
  customer answers with the number), `error_from_response` / `error_is_retryable`;
* inbound: `verify_request` (raises WebhookRefused: nothing is stored) and `parse_request`
  (normalized InboundMessage / InboundStatus records, each with its raw JSON); a provider
  whose one webhook URL serves every bot also sets `routes_by_body` and implements
  `route_request` and `verify_routes` (see `Provider`);
* `check_connection`: the provider's cheapest authenticated call, for the admin's and the
  API's "test connection";
* `customer_window`: whether Meta's 24-hour customer-service window applies.

The webhook views that drive the inbound side are in `chatbots.webhooks`.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from chatbots.wire import TEXT_MAX, InboundMessage, InboundStatus, Media, Outbound, Text
from config import http
from config import webhooks as webhook_json

if TYPE_CHECKING:
    from chatbots.models import Chatbot
    from chatbots.routing import BotRoute

logger = logging.getLogger(__name__)

#: InboundMessage.type of a message the business itself sent from its WhatsApp (a person
#: typing on the phone, or the echo of one of our own sends). Never drives the flow:
#: `chatbots.echoes` hands the conversation to a person when it was not one of ours.
ECHO_TYPE = "business_echo"

#: A normalized inbound record and the raw JSON it came from (kept on the InboundEvent).
Parsed = tuple[InboundMessage | InboundStatus, dict]


class ProviderError(Exception):
    def __init__(
        self, code: str, detail: str = "", *, retryable: bool, retry_after: float | None = None
    ):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = str(code)
        self.detail = detail
        self.retryable = retryable
        self.retry_after = retry_after


class WebhookRefused(Exception):
    """An inbound request we do not store. The webhook answers `status` with `reason` (a
    stable code, also the metric label) and `detail` (what is wrong and how to fix it)."""

    def __init__(self, status: int, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass
class SendResult:
    external_id: str


def chatbot_secrets(chatbot: Chatbot) -> dict[str, str]:
    """Chatbot.provider_secrets (encrypted JSON text) as a dict; {} when empty or unreadable."""
    raw = chatbot.provider_secrets or ""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        logger.error("provider_secrets is not JSON", extra={"chatbot_id": chatbot.pk})
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def chatbot_config(chatbot: Chatbot) -> dict[str, Any]:
    """Chatbot.provider_config (non-secret settings) as a dict."""
    return chatbot.provider_config if isinstance(chatbot.provider_config, dict) else {}


def not_configured(chatbot: Chatbot, what: str) -> ProviderError:
    """The error of a bot that lacks a setting: permanent, and it names the setting."""
    return ProviderError(
        "not_configured",
        _("O chatbot “%(bot)s” não tem %(what)s: preencha no cadastro do chatbot.")
        % {"bot": chatbot.name, "what": what},
        retryable=False,
    )


def as_text(message: Outbound) -> Text:
    """How a kind a provider cannot send goes out: as plain text.

    Buttons and lists become their numbered preview ("1. Título", which `chatbots.numbered`
    maps back to the option's id when the customer answers with the number); media becomes
    its caption and link; a template its name and parameters.
    """
    if isinstance(message, Text):
        return message
    if isinstance(message, Media):
        body = "\n".join(p for p in (message.caption, message.link) if p)
        body = body or f"[{message.media_type}]"
    else:
        body = message.preview
    return Text(body=body[:TEXT_MAX])


def stored_file(message: Media) -> tuple[str, bytes, str]:
    """(filename, bytes, MIME type) of a Media.stored file, read from Django's default
    storage; a file gone meanwhile (erased) is a permanent error."""
    try:
        with default_storage.open(message.stored, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise ProviderError("media_missing", str(exc)[:200], retryable=False) from exc
    mime = mimetypes.guess_type(message.stored)[0] or "application/octet-stream"
    return (message.filename or message.stored.rsplit("/", 1)[-1], content, mime)


def status_error(response: http.HTTPResponse) -> ProviderError:
    """Classify a non-2xx answer by its HTTP status alone: 429 and 5xx are worth retrying
    (throttled, or the gateway is having trouble); any other 4xx is permanent as it stands
    (bad credentials, bad number, unknown instance)."""
    status = response.status_code
    return ProviderError(
        f"http_{status}",
        response.text[:300],
        retryable=status == 429 or status >= 500,
        retry_after=retry_after_header(response),
    )


def http_call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    data: Any = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    error_from_response: Callable[[http.HTTPResponse], ProviderError] = status_error,
    tenant_url: bool = True,
) -> http.HTTPResponse:
    """One HTTP call through config.http. A URL built from the bot's configuration is a
    tenant's (`tenant_url`, the default): called under the egress policy
    (`http.tenant_request`); an operator's setting (Meta's WHATSAPP_GRAPH_API_URL) is not.
    No answer (timeout, refused connection) is a retryable ProviderError; a URL the policy
    refuses or an oversize answer a permanent one; a non-2xx answer is classified by
    `error_from_response`."""
    send = http.tenant_request if tenant_url else http.request
    try:
        response = send(
            method,
            url,
            json=json,
            data=data,
            files=files,
            params=params,
            headers=headers,
            timeout=timeout,
        )
    except http.HTTPTimeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except http.HTTPConnectionError as exc:
        raise ProviderError("connection_error", str(exc), retryable=True) from exc
    except http.HTTPTooLarge as exc:
        raise ProviderError("response_too_large", str(exc), retryable=False) from exc
    except http.HTTPRefused as exc:  # the text is the policy's own, in pt-BR
        raise ProviderError(
            "egress_refused",
            _("URL do provedor recusada: %(reason)s") % {"reason": exc},
            retryable=False,
        ) from exc
    except http.HTTPError as exc:  # an invalid URL and the like: the setting is wrong
        raise ProviderError("http_error", str(exc), retryable=False) from exc
    if not (200 <= response.status_code < 300):
        raise error_from_response(response)
    return response


class Provider:
    """One WhatsApp gateway. Every method takes the bot it works for.

    How the webhook (chatbots.webhooks) finds the bot of a request depends on
    `routes_by_body`:

    * False (most gateways): the view finds the bot from the request itself before it
      reads the body (the bot id in the URL; Whaticket also by its token header, or by the
      bot whose secret verifies the signature). It calls `verify_request(bot)`, then
      `parse_request(bot)`, and stores every record for that bot.
    * True: one URL serves every bot and the body names the bot of each record, possibly
      several bots in one request (Meta: one callback URL per Meta app, each change of a
      batch naming its number by `metadata.phone_number_id`). The view calls
      `route_request` (the bots the body names, keyed by the `bot_key` their records
      carry), `verify_routes` (the request authenticated for all of them at once: one
      signature covers the whole body), then `parse_request(None)`, and stores each record
      for the bot its `bot_key` names; a record naming no bot is dropped.

    Either way a WebhookRefused raised by any step stores nothing.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    #: Outbound kinds the provider sends natively; others degrade to their text preview.
    native_kinds: ClassVar[frozenset[str]] = frozenset({"text"})
    #: Whether Meta's 24-hour customer-service window applies: outside it only approved
    #: templates may be sent (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows). Unofficial gateways have no such rule.
    customer_window: ClassVar[bool] = False
    #: Whether the body, not the URL, names the bot of each record (see the class docstring).
    routes_by_body: ClassVar[bool] = False
    #: Whether `call` goes to a server the bot's configuration names (a tenant's URL, under
    #: the egress policy: config/egress.py) rather than one of the operator's settings.
    tenant_urls: ClassVar[bool] = True

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        raise NotImplementedError

    def mark_read(self, chatbot: Chatbot, external_id: str) -> None:
        """Tell the provider an inbound message was read (blue ticks). Optional."""

    # --- Outbound helpers ----------------------------------------------------------------

    def degrade(self, message: Outbound) -> Outbound:
        """`message` itself when this provider sends its kind natively, else `as_text`."""
        return message if message.kind in self.native_kinds else as_text(message)

    def error_from_response(self, response: http.HTTPResponse) -> ProviderError:
        """Classify a non-2xx answer. Default: by the HTTP status (`status_error`)."""
        return status_error(response)

    def error_is_retryable(self, response: http.HTTPResponse) -> bool:
        return self.error_from_response(response).retryable

    def call(self, method: str, url: str, **kwargs: Any) -> http.HTTPResponse:
        """`http_call` (the same arguments) with this provider's `error_from_response`."""
        return http_call(
            method,
            url,
            error_from_response=self.error_from_response,
            tenant_url=self.tenant_urls,
            **kwargs,
        )

    # --- Inbound webhooks ----------------------------------------------------------------

    def verify_request(
        self,
        chatbot: Chatbot | None,
        *,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """Return when the request provably comes from the provider for `chatbot`; raise
        WebhookRefused (401 for authentication failures) otherwise. `headers` is
        case-insensitive (Django's request.headers); `body` the raw bytes."""
        raise WebhookRefused(404, "no_webhook", f"provider {self.key!r} receives no webhooks")

    def parse_request(
        self, chatbot: Chatbot | None, *, headers: Mapping[str, str], body: bytes
    ) -> list[Parsed]:
        """The normalized records of a verified request (possibly none: events we ignore).
        Raise WebhookRefused(400) for a body that cannot be read. `chatbot` is None when
        the body routes (`routes_by_body`): every record of the request, each naming its
        bot by `bot_key`."""
        raise WebhookRefused(404, "no_webhook", f"provider {self.key!r} receives no webhooks")

    def route_request(
        self, *, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, Chatbot | BotRoute]:
        """`routes_by_body` only: bot key -> bot for every key the body names, read before
        authenticating (whose secret signs the body depends on which bots it names); empty
        when it names none. A bot may be a frozen copy of the few fields the webhook needs
        (chatbots.routing.BotRoute: pk, tenant_id and the credentials). Raise
        WebhookRefused: 400 for a body that cannot be read, 404 for a key that names no
        bot."""
        raise WebhookRefused(404, "no_webhook", f"provider {self.key!r} does not route by body")

    def verify_routes(
        self,
        routes: Mapping[str, Chatbot | BotRoute],
        *,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """`routes_by_body` only: `verify_request` for every bot of `routes` at once (which
        may be empty: a request that names no bot, and so stores nothing)."""
        raise WebhookRefused(404, "no_webhook", f"provider {self.key!r} does not route by body")

    # --- Health ----------------------------------------------------------------------------

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        """(ok, pt-BR detail) from the provider's cheapest authenticated call. Never raises.

        The detail is ours, never the remote answer: the URL is the tenant's, so its body
        or status code would turn the check into a way to read (or port-scan) whatever the
        server can reach. `connection_failure` words the usual failures."""
        return False, _("Este provedor não tem teste de conexão.")


#: ProviderError codes whose detail is our own text (a missing setting, the egress policy).
OWN_DETAIL_CODES = frozenset({"not_configured", "egress_refused"})


def connection_failure(chatbot: Chatbot, exc: ProviderError, *, provider: str) -> str:
    """What a failed connection check tells the business user, in pt-BR: the kind of
    failure and the fix, never the remote answer (logged here, on the server)."""
    logger.warning(
        "connection check failed",
        extra={"chatbot_id": chatbot.pk, "code": exc.code, "detail": exc.detail[:500]},
    )
    if exc.code in OWN_DETAIL_CODES:
        return exc.detail or exc.code
    if exc.code == "timeout":
        return _(
            "O servidor do provedor (%(provider)s) não respondeu a tempo. Confira a URL e se ele está no ar."
        ) % {"provider": provider}
    if exc.code == "connection_error":
        return _(
            "Não foi possível conectar ao servidor do provedor (%(provider)s). Confira a URL "
            "(provider_config.base_url) e se ele está no ar."
        ) % {"provider": provider}
    if exc.code in ("unauthorized", "forbidden", "http_401", "http_403"):
        return _(
            "O provedor (%(provider)s) recusou a credencial. Confira os segredos do provedor."
        ) % {"provider": provider}
    return _(
        "O servidor do provedor (%(provider)s) não respondeu como esperado; confira a URL "
        "(provider_config.base_url). Os detalhes ficaram no log do servidor."
    ) % {"provider": provider}


def retry_after_header(response: http.HTTPResponse) -> float | None:
    """Seconds the provider asked us to wait (`Retry-After`), if it said."""
    value = (response.headers or {}).get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def json_body(body: bytes) -> dict:
    """The raw body as a JSON object, or WebhookRefused(400) naming what is wrong."""
    try:
        # NaN, \u0000, lone surrogates, deep nesting: refused or replaced before anything
        # is looked up or stored (config.webhooks.load_json).
        value = webhook_json.load_json(body)
    except webhook_json.JsonRefused as exc:
        raise WebhookRefused(400, "malformed", str(exc)) from None
    if not isinstance(value, dict):
        raise WebhookRefused(400, "malformed", "body is JSON but not an object")
    return value
