"""Meta WhatsApp Cloud API: sending messages and read receipts (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages),
and the webhook's routing and authentication.

Inbound, Meta posts every number of a Meta app to one callback URL, so the body routes
(`Provider.routes_by_body`): `route_request` looks up the bots a batch names by
`phone_number_id` (chatbots.routing, a per-process cache), `verify_routes` checks
`X-Hub-Signature-256` against their app secrets. Reading and normalizing the envelope is
`chatbots.providers.meta_inbound`.

Every body built here validates against the request schema of
`POST /{Version}/{Phone-Number-ID}/messages` in Meta's OpenAPI description
(corpus/meta-openapi/business-messaging-api_v23.0.yaml; see test_provider_meta_schema.py).
Errors are classified by Meta's `error.code` (and `error_data.details` for the text), not by
the HTTP status or title, as Meta's error codes page (below) asks; the HTTP status only
decides for codes we do not know.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import routing
from chatbots.error_codes import quality_name
from chatbots.providers import meta_account, meta_inbound
from chatbots.providers.base import (
    Parsed,
    Provider,
    ProviderError,
    SendResult,
    WebhookRefused,
    retry_after_header,
)
from chatbots.wire import (
    Buttons,
    ListMessage,
    Media,
    Outbound,
    Template,
    Text,
)
from config import http

if TYPE_CHECKING:
    from chatbots.models import Chatbot
    from chatbots.routing import BotRoute

logger = logging.getLogger(__name__)

# Error codes, Meta docs "support/error-codes" (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
# Worth retrying after a pause: throughput (130429), pair rate (131056), account in
# maintenance during a throughput upgrade (131057), app/WABA call-rate limits (4, 80007),
# temporary service trouble (2).
RETRYABLE_CODES = frozenset({2, 4, 80007, 130429, 131056, 131057})
# Never worth retrying as is: undeliverable (131026), window closed (131047), marketing
# opt-out (131050), unsupported type (131051), bad or missing parameters (100, 131008,
# 131009), expired token (190), spam rate limit where hammering hurts quality (131048),
# marketing per-user cap that lasts 24 h or more (131049). 132xxx (templates) too.
PERMANENT_CODES = frozenset(
    {100, 190, 131008, 131009, 131026, 131047, 131048, 131049, 131050, 131051, 131052, 131053}
)
# Pair limit (code 131056): 1 message every 6 s to the same user; waiting less only fails
# again.
PAIR_RATE_WAIT_SECONDS = 6.0


def recipient(to: str) -> str:
    """Meta wants `+` and the country code on `to`: without the `+` it prepends the business
    number's own country code and can misroute the message. Non-numeric ids (a
    business-scoped user id) are passed as they are."""
    to = to.strip()
    digits = to.lstrip("+")
    return f"+{digits}" if digits.isdigit() else to


def build_body(to: str, message: Outbound, *, context_id: str = "") -> dict[str, Any]:
    """The JSON body of a send request for one normalized outbound message."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient(to),
    }
    if isinstance(message, Text):
        body["type"] = "text"
        body["text"] = {"body": message.body, "preview_url": message.preview_url}
    elif isinstance(message, Buttons):
        body["type"] = "interactive"
        body["interactive"] = _interactive(
            "button",
            message,
            action={
                "buttons": [
                    {"type": "reply", "reply": {"id": b.id, "title": b.title}}
                    for b in message.buttons
                ]
            },
        )
    elif isinstance(message, ListMessage):
        sections = []
        for section in message.sections:
            rows = []
            for row in section.rows:
                item = {"id": row.id, "title": row.title}
                if row.description:
                    item["description"] = row.description
                rows.append(item)
            # A title is only required with more than one section (the dataclass enforces it).
            sections.append(
                {"title": section.title, "rows": rows} if section.title else {"rows": rows}
            )
        body["type"] = "interactive"
        body["interactive"] = _interactive(
            "list", message, action={"button": message.button, "sections": sections}
        )
    elif isinstance(message, Media):
        if message.stored:
            raise ProviderError(
                "media_not_uploaded",
                "a stored file goes to Meta by media_id: upload it first (media.outbound)",
                retryable=False,
            )
        media: dict[str, Any] = {"link": message.link} if message.link else {"id": message.media_id}
        # Captions exist for image, video and document; a file name only for documents.
        if message.caption and message.media_type in ("image", "video", "document"):
            media["caption"] = message.caption
        if message.filename and message.media_type == "document":
            media["filename"] = message.filename
        body["type"] = message.media_type
        body[message.media_type] = media
    elif isinstance(message, Template):
        # "deterministic" is the only language policy (v23.0 LanguageObject requires it).
        template: dict[str, Any] = {
            "name": message.name,
            "language": {"policy": "deterministic", "code": message.language},
        }
        if message.components:  # filled from the stored definition (chatbots.message_templates)
            template["components"] = message.components
        elif message.params:
            template["components"] = [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": str(p)} for p in message.params],
                }
            ]
        body["type"] = "template"
        body["template"] = template
    else:  # a kind this provider does not know: its plain-text rendering still gets there
        body["type"] = "text"
        body["text"] = {"body": message.preview, "preview_url": False}
    if context_id:
        body["context"] = {"message_id": context_id}
    return body


def _interactive(kind: str, message: Buttons | ListMessage, *, action: dict) -> dict[str, Any]:
    interactive: dict[str, Any] = {"type": kind}
    if message.header:
        interactive["header"] = {"type": "text", "text": message.header}
    interactive["body"] = {"text": message.body}
    if message.footer:
        interactive["footer"] = {"text": message.footer}
    interactive["action"] = action
    return interactive


def mark_read_body(external_id: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": external_id}


def error_from_response(response: http.HTTPResponse) -> ProviderError:
    """Classify a non-2xx answer from the Graph API into a ProviderError."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    status = response.status_code
    raw_code = error.get("code")
    try:
        code = int(raw_code)
    except (TypeError, ValueError):
        code = None
    title = str(error.get("message") or "")
    details = str((error.get("error_data") or {}).get("details") or "")
    detail = " — ".join(t for t in (title, details) if t) or response.text[:300]
    retry_after = retry_after_header(response)
    if code is None:  # no Graph error body (a proxy, an outage page): only the status says
        return ProviderError(
            f"http_{status}",
            detail,
            retryable=status >= 500 or status == 429,
            retry_after=retry_after,
        )
    if code in RETRYABLE_CODES:
        retryable = True
    elif code in PERMANENT_CODES or 132000 <= code < 133000:
        retryable = False
    else:
        retryable = status >= 500 or status == 429 or bool(error.get("is_transient"))
    if code == 131056:
        retry_after = max(retry_after or 0.0, PAIR_RATE_WAIT_SECONDS)
    return ProviderError(str(code), detail[:2000], retryable=retryable, retry_after=retry_after)


class MetaProvider(Provider):
    key = "meta"
    label = gettext_lazy("Meta (WhatsApp Cloud API oficial)")
    native_kinds = frozenset({"text", "buttons", "list", "media", "template"})
    customer_window = True
    routes_by_body = True
    tenant_urls = False  # WHATSAPP_GRAPH_API_URL is the operator's setting

    def send(
        self, chatbot: Chatbot, to: str, message: Outbound, *, context_id: str = ""
    ) -> SendResult:
        response = self._post(chatbot, build_body(to, message, context_id=context_id))
        try:
            return SendResult(external_id=str(response.json()["messages"][0]["id"]))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            # 200 means Meta accepted the message: sending again could duplicate it.
            raise ProviderError(
                "invalid_response",
                _("A Meta aceitou o envio mas não devolveu o ID da mensagem: %(body)s")
                % {"body": response.text[:300]},
                retryable=False,
            ) from None

    def mark_read(self, chatbot: Chatbot, external_id: str) -> None:
        self._post(chatbot, mark_read_body(external_id))

    def _post(self, chatbot: Chatbot, body: dict[str, Any]) -> http.HTTPResponse:
        if not chatbot.phone_number_id or not chatbot.access_token:
            raise ProviderError(
                "not_configured",
                _(
                    "O chatbot “%(bot)s” não tem Phone number ID ou token de acesso da Meta: "
                    "preencha os dois no cadastro do chatbot."
                )
                % {"bot": chatbot.name},
                retryable=False,
            )
        url = (
            f"{settings.WHATSAPP_GRAPH_API_URL.rstrip('/')}/"
            f"{settings.WHATSAPP_GRAPH_API_VERSION}/{chatbot.phone_number_id}/messages"
        )
        headers = {
            "Authorization": f"Bearer {chatbot.access_token}",
            "Content-Type": "application/json",
        }
        try:
            response = http.post(url, json=body, headers=headers)
        except http.HTTPTimeout as exc:
            raise ProviderError("timeout", str(exc), retryable=True) from exc
        except http.HTTPConnectionError as exc:
            raise ProviderError("connection_error", str(exc), retryable=True) from exc
        except http.HTTPError as exc:
            raise ProviderError("http_error", str(exc), retryable=False) from exc
        if not response.ok:
            raise error_from_response(response)
        return response

    def error_from_response(self, response: http.HTTPResponse) -> ProviderError:
        return error_from_response(response)

    def check_connection(self, chatbot: Chatbot) -> tuple[bool, str]:
        """`GET /{phone_number_id}?fields=...`: the number's own record, the cheapest call
        that proves both the id and the token."""
        if not chatbot.phone_number_id or not chatbot.access_token:
            return False, _("Preencha o Phone number ID e o token de acesso da Meta.")
        url = (
            f"{settings.WHATSAPP_GRAPH_API_URL.rstrip('/')}/"
            f"{settings.WHATSAPP_GRAPH_API_VERSION}/{chatbot.phone_number_id}"
        )
        try:
            response = self.call(
                "GET",
                url,
                params={"fields": "display_phone_number,verified_name,quality_rating"},
                headers={"Authorization": f"Bearer {chatbot.access_token}"},
            )
            data = response.json()
        except ProviderError as exc:
            return False, f"{exc.code}: {exc.detail}" if exc.detail else exc.code
        except ValueError:
            return False, _("A Meta respondeu algo que não é JSON.")
        data = data if isinstance(data, dict) else {}
        return True, _("Conectado: %(number)s (%(name)s), qualidade %(quality)s.") % {
            "number": data.get("display_phone_number") or chatbot.phone_number_id,
            "name": data.get("verified_name") or "?",
            "quality": quality_name(data.get("quality_rating") or "") or "?",
        }

    # --- Inbound webhooks ---------------------------------------------------------------

    def route_request(self, *, headers: Mapping[str, str], body: bytes) -> dict[str, BotRoute]:
        """phone_number_id -> bot for every `value.metadata.phone_number_id` of the batch.

        400 when the body is not an envelope. An `object` other than
        "whatsapp_business_account" (another product of the same Meta app) names no bot.
        Account-level changes (account_update, message_template_*, phone_number_*) add
        "waba:<id>" routes (chatbots.providers.meta_account); a WABA no bot has is left out
        (its events are acknowledged and dropped, like other apps' WABAs). 404 when a
        number matches no bot (logged): Meta keeps retrying for 7 days, so messages to a
        number registered late still arrive once its bot is created.
        """
        try:
            envelope = meta_inbound.load_envelope(body)
            whatsapp = meta_inbound.is_whatsapp(envelope)
            keys = meta_inbound.routing_keys(envelope) if whatsapp else set()
        except meta_inbound.MetaPayloadError as exc:
            raise WebhookRefused(400, "malformed", str(exc)) from None
        # Account-level changes route by the WABA (chatbots.providers.meta_account).
        signature = headers.get(meta_inbound.SIGNATURE_HEADER)
        account = meta_account.routes(envelope, header=signature, body=body) if whatsapp else {}
        if not keys:
            return account
        routes = {**routing.routes_for(keys), **account}
        if unknown := sorted(keys - routes.keys()):
            logger.warning(
                "webhook for unknown phone_number_id; create its bot or remove the number "
                "from the Meta app",
                extra={"phone_number_ids": unknown},
            )
            raise WebhookRefused(404, "unknown_phone_number_id", ", ".join(unknown))
        return routes

    def verify_routes(
        self,
        routes: Mapping[str, Chatbot | BotRoute],
        *,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """`X-Hub-Signature-256` must match the app secret of EVERY bot the batch names.

        Meta signs with the APP secret, one per Meta app, and a batch names only numbers of
        one app, which share it; a bot without one uses WHATSAPP_APP_SECRET. Bots with
        different secrets in one batch, or a bot with no secret at all, mean 401.

        Account-level changes name their WABA's bot ("waba:<id>" routes, chosen by
        chatbots.providers.meta_account among the WABA's bots by the secret that signs).
        A batch naming no bot (another app's WABA, other objects) is checked against
        WHATSAPP_APP_SECRET when that is set, and accepted unchecked otherwise: there is no
        bot to store it for, and an unverified body that stores nothing can do no harm.
        """
        header = headers.get(meta_inbound.SIGNATURE_HEADER)
        if routes:
            _verify_signature(body, header, list(routes.values()))
            return
        secret = settings.WHATSAPP_APP_SECRET
        if secret and not meta_inbound.verify_signature(body=body, header=header, secret=secret):
            raise WebhookRefused(
                401, "bad_signature", f"{meta_inbound.SIGNATURE_HEADER} does not match"
            )

    def verify_request(
        self,
        chatbot: Chatbot | None,
        *,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """`verify_routes` for one bot; None stands for a bot without an app secret (then
        only WHATSAPP_APP_SECRET can sign)."""
        _verify_signature(body, headers.get(meta_inbound.SIGNATURE_HEADER), [chatbot])

    def parse_request(
        self, chatbot: Chatbot | None, *, headers: Mapping[str, str], body: bytes
    ) -> list[Parsed]:
        """Every message and status of the batch (only `chatbot`'s number, when given)."""
        try:
            envelope = meta_inbound.load_envelope(body)
            parsed = meta_inbound.parse_envelope(envelope) + meta_account.parse_envelope(envelope)
        except meta_inbound.MetaPayloadError as exc:
            raise WebhookRefused(400, "malformed", str(exc)) from None
        if chatbot is None:
            return parsed
        return [(item, raw) for item, raw in parsed if item.bot_key == chatbot.phone_number_id]


def _verify_signature(
    body: bytes, header: str | None, bots: list[Chatbot | BotRoute | None]
) -> None:
    """WebhookRefused(401) unless `header` signs `body` with the app secret of every bot."""
    secrets: set[str] = set()
    for bot in bots:
        secret = ((bot.app_secret if bot else "") or settings.WHATSAPP_APP_SECRET or "").strip()
        if not secret:
            logger.error(
                "webhook refused: bot has no app secret; set it on the bot or WHATSAPP_APP_SECRET",
                extra={"chatbot_id": bot.pk if bot else None},
            )
            raise WebhookRefused(401, "no_app_secret", "the bot has no app secret configured")
        secrets.add(secret)
    if not header:
        raise WebhookRefused(
            401, "missing_signature", f"{meta_inbound.SIGNATURE_HEADER} header is required"
        )
    if not all(meta_inbound.verify_signature(body=body, header=header, secret=s) for s in secrets):
        logger.warning(
            "webhook signature mismatch",
            extra={
                "chatbot_ids": sorted(bot.pk for bot in bots if bot),
                "distinct_app_secrets": len(secrets),
            },
        )
        raise WebhookRefused(
            401, "bad_signature", f"{meta_inbound.SIGNATURE_HEADER} does not match"
        )
