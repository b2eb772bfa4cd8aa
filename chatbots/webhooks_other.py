"""Webhooks of the unofficial gateways: Whaticket and Evolution API.

Thin, like the Meta view (chatbots.views): find the bot, let its provider authenticate and
parse the raw body (`Provider.verify_request` / `parse_request`), store every record with
`chatbots.inbound.store_events` (the same storage, deduplication and engine as Meta), and
answer. Every refusal stores nothing and answers `{"error": <reason>, "detail": <text>}`:

* 413: body over WEBHOOK_MAX_BODY_BYTES;
* 404: no bot of that provider with that id (or token);
* 401: authentication failed (signature, timestamp, secret, token);
* 400: a body we cannot read (not JSON, a Whaticket message without the customer's number).

Whaticket answers 202 `{"queued": true}` (its original contract); Evolution 200
`{"status": "ok", "stored": n}`, also for events it does not handle (acknowledged so
Evolution does not retry them).
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from chatbots import inbound
from chatbots.models import Chatbot
from chatbots.providers import evolution, whaticket
from chatbots.providers.base import Provider, WebhookRefused
from chatbots.providers.registry import get_provider
from chatbots.views import WEBHOOK_REJECTED

logger = logging.getLogger(__name__)

# Bot fields the webhooks read (secrets are decrypted on access).
BOT_FIELDS = (
    "id",
    "tenant_id",
    "name",
    "provider",
    "active",
    "provider_config",
    "provider_secrets",
)


@method_decorator(csrf_exempt, name="dispatch")
class ProviderWebhookView(View):
    """POST only. Subclasses name their provider and how they answer."""

    http_method_names = ["post"]
    provider_key: str = ""

    @property
    def provider(self) -> Provider:
        return get_provider(self.provider_key)

    def refuse(self, refusal: WebhookRefused) -> JsonResponse:
        WEBHOOK_REJECTED.labels(provider=self.provider_key, reason=refusal.reason).inc()
        logger.info(
            "webhook refused",
            extra={"provider": self.provider_key, "reason": refusal.reason},
        )
        return JsonResponse(
            {"error": refusal.reason, "detail": refusal.detail}, status=refusal.status
        )

    def accepted(self, stored: int) -> JsonResponse:
        return JsonResponse({"status": "ok", "stored": stored})

    def post(self, request: HttpRequest, bot_id: str | None = None, **_kwargs) -> JsonResponse:
        try:
            body = _read_body(request)
            chatbot = self.chatbot(request, bot_id=int(bot_id) if bot_id else None, body=body)
            parsed = self.provider.parse_request(chatbot, headers=request.headers, body=body)
        except WebhookRefused as refusal:
            return self.refuse(refusal)
        events = [(chatbot, item, raw) for item, raw in parsed]
        new_ids = inbound.store_events(events=events) if events else []
        return self.accepted(len(new_ids))

    def chatbot(self, request: HttpRequest, *, bot_id: int | None, body: bytes) -> Chatbot:
        """The bot the request is for, authenticated; WebhookRefused otherwise."""
        if bot_id is None:
            raise WebhookRefused(404, "unknown_bot", "the URL must name the bot id")
        chatbot = _bots(self.provider_key).filter(pk=bot_id).first()
        if chatbot is None:
            raise WebhookRefused(404, "unknown_bot", f"no {self.provider_key} bot {bot_id}")
        self.provider.verify_request(chatbot, headers=request.headers, body=body, query=request.GET)
        return chatbot


class WhaticketWebhookView(ProviderWebhookView):
    """`POST /webhook/whaticket[/<bot id>]` and `/api/chatbots/webhook/whaticket/[<bot id>/]`.

    Which bot, in order: the id in the URL; else `X-Webhook-Token`, matched against each
    Whaticket bot's `provider_config.webhook_token`; else (the original single-URL set-up)
    the Whaticket bot whose shared secret verifies the signature, tried on every active
    Whaticket bot, which suits a handful of them: with more, use one of the first two.
    """

    provider_key = whaticket.PROVIDER

    def accepted(self, stored: int) -> JsonResponse:
        return JsonResponse({"queued": True}, status=202)

    def chatbot(self, request: HttpRequest, *, bot_id: int | None, body: bytes) -> Chatbot:
        if bot_id is not None:
            return super().chatbot(request, bot_id=bot_id, body=body)
        candidates = _bots(self.provider_key)
        token = (request.headers.get(whaticket.TOKEN_HEADER) or "").strip()
        if token:
            # The token routes, it does not authenticate (the signature does), so it is
            # kept in provider_config; still compared in constant time.
            matches = [
                bot
                for bot in candidates.filter(provider_config__has_key="webhook_token")
                if hmac.compare_digest(
                    str(bot.provider_config.get("webhook_token") or "").encode(), token.encode()
                )
            ]
            if not matches:
                raise WebhookRefused(
                    404, "unknown_bot", f"no Whaticket bot has this {whaticket.TOKEN_HEADER}"
                )
            if len(matches) > 1:
                raise WebhookRefused(
                    400,
                    "ambiguous_token",
                    "several bots share this token: use /webhook/whaticket/<bot id>",
                )
            self.provider.verify_request(matches[0], headers=request.headers, body=body)
            return matches[0]
        refusals: list[WebhookRefused] = []
        for bot in candidates.filter(active=True).order_by("pk"):
            try:
                self.provider.verify_request(bot, headers=request.headers, body=body)
            except WebhookRefused as exc:
                refusals.append(exc)
                continue
            return bot
        if not refusals:
            raise WebhookRefused(404, "unknown_bot", "there is no active Whaticket bot")
        # A problem of the request itself (headers, stale timestamp) is the same for every
        # bot and says the most; then a wrong signature; a bot without a secret says least.
        rank = {"no_shared_secret": 2, "bad_signature": 1}
        raise min(refusals, key=lambda exc: rank.get(exc.reason, 0))


class EvolutionWebhookView(ProviderWebhookView):
    """`POST /api/chatbots/webhook/evolution/<bot id>/` (also with Evolution's per-event
    suffix, `/<bot id>/messages-upsert`, when "webhook by events" is on)."""

    provider_key = evolution.PROVIDER


def _bots(provider_key: str):
    return Chatbot.objects.filter(provider=provider_key).only(*BOT_FIELDS)


def _read_body(request: HttpRequest) -> bytes:
    """The raw body (signatures cover these exact bytes); 413 over the limit."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = b""
    if declared <= limit:  # otherwise refused before reading a byte
        try:
            body = request.body
        except RequestDataTooBig:  # Django's own cap, DATA_UPLOAD_MAX_MEMORY_SIZE
            declared = limit + 1
    if declared > limit or len(body) > limit:
        raise WebhookRefused(413, "too_large", f"body over {limit} bytes")
    return body
