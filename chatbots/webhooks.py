"""Provider webhooks: read, authenticate, parse, store, answer fast.

One view class per provider path, all on `ProviderWebhookView`: it reads the raw body, lets
the bot's provider authenticate and parse it (the contract in chatbots.providers.base), stores
every record with `chatbots.inbound.store_events` (one INSERT; duplicates skipped by the
database) and answers. Processing happens in Celery after commit. Every refusal stores
nothing:

* 413: body over WEBHOOK_MAX_BODY_BYTES; 400: a bad Content-Length or a body we cannot
  read (`{"error": <reason>, "detail": <text>}`), checked before any bot is looked up;
* 401, always the same body (config.webhooks.unauthorized): no bot for the request (the id
  in the URL, a token, a phone_number_id) or authentication failed (signature, timestamp,
  secret, token). The reason is logged and counted (chatbot_webhook_rejected_total), never
  answered: a different answer for a bot that does not exist lets anyone list them.

Meta asks for a median answer under 250 ms and retries anything but 200 for up to 7 days
(Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started), so the
Meta POST looks up the bots the batch names from a per-process cache (chatbots/routing.py)
and makes at most one query for them and one INSERT, whatever the batch size.
"""

from __future__ import annotations

import hmac
import logging
from typing import ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import Counter

from chatbots import inbound
from chatbots.models import Chatbot
from chatbots.providers import evolution, meta_inbound, whaticket
from chatbots.providers.base import Provider, WebhookRefused
from chatbots.providers.registry import get_provider
from chatbots.wire import InboundMessage, InboundPreference, InboundStatus
from config import webhooks as webhook_http

logger = logging.getLogger(__name__)

WEBHOOK_REJECTED = Counter(
    "chatbot_webhook_rejected_total",
    "Webhook requests refused, by provider and reason",
    ["provider", "reason"],
)

# Bot fields the URL-routed webhooks read (secrets are decrypted on access).
BOT_FIELDS = (
    "id",
    "tenant_id",
    "name",
    "provider",
    "active",
    "provider_config",
    "provider_secrets",
)


def read_body(request: HttpRequest) -> bytes:
    """The raw body under WEBHOOK_MAX_BODY_BYTES (config.webhooks.read_body: 400 for a bad
    Content-Length, 413 over the limit), as a WebhookRefused."""
    try:
        return webhook_http.read_body(request, limit=settings.WEBHOOK_MAX_BODY_BYTES)
    except webhook_http.BodyRefused as exc:
        raise WebhookRefused(exc.status, exc.reason, exc.detail) from None


# What a provider refuses with one of these is answered with the one 401 of every webhook.
NOT_AUTHENTICATED = frozenset({401, 403, 404})


@method_decorator(csrf_exempt, name="dispatch")
class ProviderWebhookView(View):
    """POST of one provider's webhook. Subclasses name their provider (`provider_key`) and
    may change how the bot is found (`chatbot`) and how they answer (`accepted`).

    Inactive bots still get their events stored: the engine records the customer's
    messages and does not reply.
    """

    http_method_names = ["post"]
    provider_key: ClassVar[str] = ""

    def setup(self, request: HttpRequest, *args, **kwargs) -> None:
        super().setup(request, *args, **kwargs)
        self.provider: Provider = get_provider(self.provider_key)

    def post(self, request: HttpRequest, bot_id: str | None = None, **_kwargs) -> HttpResponse:
        try:
            body = read_body(request)
            if self.provider.routes_by_body:
                events = self.events_routed_by_body(request, body=body)
            else:
                bot = self.chatbot(request, bot_id=int(bot_id) if bot_id else None, body=body)
                parsed = self.provider.parse_request(bot, headers=request.headers, body=body)
                events = [(bot, item, raw) for item, raw in parsed]
        except WebhookRefused as refusal:
            return self.refuse(refusal)
        events = self.storable(events)
        new_ids = inbound.store_events(events=events) if events else []
        return self.accepted(len(new_ids))

    def events_routed_by_body(self, request: HttpRequest, *, body: bytes) -> list:
        """(bot, record, raw) for every record of a request whose body names its bots."""
        routes = self.provider.route_request(headers=request.headers, body=body)
        self.provider.verify_routes(routes, headers=request.headers, body=body)
        parsed = self.provider.parse_request(None, headers=request.headers, body=body)
        events = [
            (routes[item.bot_key], item, raw) for item, raw in parsed if item.bot_key in routes
        ]
        if len(events) < len(parsed):
            # A record without its bot key (a Meta `messages` change without metadata)
            # names no bot: nothing to store it for.
            logger.warning(
                "webhook updates naming no bot dropped",
                extra={"provider": self.provider_key, "dropped": len(parsed) - len(events)},
            )
        return events

    def storable(self, events: list) -> list:
        """The authenticated records the worker can process; the others dropped, logged and
        counted (chatbot_webhook_rejected_total{reason}) while the rest of the batch is
        stored: refused here, a record would otherwise fail in the worker on every try and
        hold back its customer's later messages (they are processed in order)."""
        kept = []
        for bot, item, raw in events:
            reason = unprocessable(item)
            if reason is None:
                kept.append((bot, item, raw))
                continue
            WEBHOOK_REJECTED.labels(provider=self.provider_key, reason=reason).inc()
            logger.error(
                "webhook record that can never be processed dropped",
                extra={"provider": self.provider_key, "chatbot_id": bot.pk, "reason": reason},
            )
        return kept

    def chatbot(self, request: HttpRequest, *, bot_id: int | None, body: bytes) -> Chatbot:
        """The bot the request is for, authenticated; WebhookRefused otherwise."""
        if bot_id is None:
            raise WebhookRefused(401, "unknown_bot", "the URL must name the bot id")
        chatbot = _bots(self.provider_key).filter(pk=bot_id).first()
        if chatbot is None:
            raise WebhookRefused(401, "unknown_bot", f"no {self.provider_key} bot {bot_id}")
        self.provider.verify_request(chatbot, headers=request.headers, body=body, query=request.GET)
        return chatbot

    def refuse(self, refusal: WebhookRefused) -> JsonResponse:
        WEBHOOK_REJECTED.labels(provider=self.provider_key, reason=refusal.reason).inc()
        logger.info(
            "webhook refused",
            extra={
                "provider": self.provider_key,
                "reason": refusal.reason,
                "status": refusal.status,
                "detail": refusal.detail,
            },
        )
        if refusal.status in NOT_AUTHENTICATED:
            return webhook_http.unauthorized()
        return JsonResponse(
            {"error": refusal.reason, "detail": refusal.detail}, status=refusal.status
        )

    def accepted(self, stored: int) -> JsonResponse:
        return JsonResponse({"status": "ok", "stored": stored})


class MetaWebhookView(ProviderWebhookView):
    """`GET/POST /api/chatbots/webhook/`: Meta WhatsApp Cloud API (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

    GET (the subscription check): 200 with `hub.challenge` as plain text when
    `hub.mode == "subscribe"` and `hub.verify_token` equals the verify token of an active
    bot or WHATSAPP_VERIFY_TOKEN; otherwise 403.

    POST, in this order (the Meta provider's `route_request` and `verify_routes` say more);
    every refusal stores nothing:

    * 413 when the body is over WEBHOOK_MAX_BODY_BYTES (Meta's 3 MB), 400 for a bad
      Content-Length;
    * 400 when the body is not a JSON object or its entry/changes skeleton is broken;
    * 401 (the same answer for both) when a `value.metadata.phone_number_id` of the batch
      matches no bot, or when `X-Hub-Signature-256` does not match the app secret of every
      bot the batch names (a batch naming none: WHATSAPP_APP_SECRET, when set). Account-
      level changes (templates, number quality, account updates) name the bot of their
      WABA, `entry[].id` (chatbots.providers.meta_account);
    * otherwise every message and status is stored once (duplicates skipped) and 200
      `{"status": "ok"}`, also for a batch with nothing to store (other objects of the
      same Meta app, fields we do not handle).
    """

    http_method_names = ["get", "post"]
    provider_key = meta_inbound.PROVIDER

    def get(self, request: HttpRequest) -> HttpResponse:
        mode = request.GET.get("hub.mode", "")
        token = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        if mode == "subscribe" and token and challenge and _known_verify_token(token):
            return HttpResponse(challenge, content_type="text/plain")
        logger.warning("webhook verification refused", extra={"hub_mode": mode[:32]})
        return HttpResponse(status=403)

    def accepted(self, stored: int) -> JsonResponse:
        return JsonResponse({"status": "ok"})


class WhaticketWebhookView(ProviderWebhookView):
    """`POST /webhook/whaticket[/<bot id>]` and `/api/chatbots/webhook/whaticket/[<bot id>/]`.

    Which bot, in order: the id in the URL; else `X-Webhook-Token`, matched against each
    Whaticket bot's `provider_config.webhook_token` (it must name exactly one); else (the
    original single-URL set-up) the active Whaticket bot whose shared secret verifies the
    signature, tried only when every active Whaticket bot belongs to ONE tenant: a request
    is never checked against another tenant's secrets, so with Whaticket bots in several
    tenants the URL must name the bot (or send the token). Every refusal of these is the
    uniform 401 (config.webhooks), its reason logged. Answers 202 `{"queued": true}` (the
    original system's contract).
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
            return self._by_token(request, candidates=candidates, token=token, body=body)
        active = list(candidates.filter(active=True).order_by("pk"))
        if not active:
            raise WebhookRefused(401, "unknown_bot", "there is no active Whaticket bot")
        if len({bot.tenant_id for bot in active}) > 1:
            logger.warning(
                "whaticket webhook without a bot id refused: Whaticket bots of several "
                "tenants could match; point each Whaticket at /webhook/whaticket/<bot id> "
                "or set its X-Webhook-Token",
                extra={"chatbot_ids": [bot.pk for bot in active]},
            )
            raise WebhookRefused(
                401, "ambiguous_tenant", "Whaticket bots of several tenants: name the bot"
            )
        refusals: list[WebhookRefused] = []
        for bot in active:
            try:
                self.provider.verify_request(bot, headers=request.headers, body=body)
            except WebhookRefused as exc:
                refusals.append(exc)
                continue
            return bot
        # A problem of the request itself (headers, stale timestamp) is the same for every
        # bot and says the most; then a wrong signature; a bot without a secret says least.
        rank = {"no_shared_secret": 2, "bad_signature": 1}
        raise min(refusals, key=lambda exc: rank.get(exc.reason, 0))

    def _by_token(self, request: HttpRequest, *, candidates, token: str, body: bytes) -> Chatbot:
        # The token routes, it does not authenticate (the signature does), so it is kept in
        # provider_config; still compared in constant time.
        matches = [
            bot
            for bot in candidates.filter(provider_config__has_key="webhook_token")
            if hmac.compare_digest(
                str(bot.provider_config.get("webhook_token") or "").encode(), token.encode()
            )
        ]
        if not matches:
            raise WebhookRefused(
                401, "unknown_bot", f"no Whaticket bot has this {whaticket.TOKEN_HEADER}"
            )
        if len(matches) > 1:
            raise WebhookRefused(
                401,
                "ambiguous_token",
                "several bots share this token: use /webhook/whaticket/<bot id>",
            )
        self.provider.verify_request(matches[0], headers=request.headers, body=body)
        return matches[0]


class EvolutionWebhookView(ProviderWebhookView):
    """`POST /api/chatbots/webhook/evolution/<bot id>/` (also with Evolution's per-event
    suffix, `/<bot id>/messages-upsert`, when "webhook by events" is on). Answers 200
    `{"status": "ok", "stored": n}`, also for events it does not handle (acknowledged so
    Evolution does not retry them)."""

    provider_key = evolution.PROVIDER


# The columns an inbound record ends up in (InboundEvent.external_id,
# Message.provider_message_id, Message.type, Cliente.whatsapp_user_id, Cliente.nome).
EXTERNAL_ID_MAX = 255
TYPE_MAX = 32
USER_ID_MAX = 64
PROFILE_NAME_MAX = 200


def unprocessable(item) -> str | None:
    """Why the worker could never process this record (None: it can). Fixes in place what
    loses nothing the customer would miss: a type or a profile name over its column."""
    if isinstance(item, InboundStatus):
        key = f"{item.external_id}:{item.status}"
        return "id_too_long" if len(key) > EXTERNAL_ID_MAX else None
    if len(item.external_id) > EXTERNAL_ID_MAX:
        return "id_too_long"
    if isinstance(item, InboundMessage | InboundPreference):
        if not item.contact_key:
            return "no_sender"
        if len(item.from_user_id) > USER_ID_MAX:
            return "sender_too_long"
        item.profile_name = item.profile_name[:PROFILE_NAME_MAX]
    if isinstance(item, InboundMessage):
        item.type = item.type[:TYPE_MAX]
    return None


def _bots(provider_key: str):
    return Chatbot.objects.filter(provider=provider_key).only(*BOT_FIELDS)


def _known_verify_token(token: str) -> bool:
    """Compare against every candidate in constant time (no early exit on a match)."""
    candidates = list(
        Chatbot.objects.filter(active=True)
        .exclude(verify_token="")
        .values_list("verify_token", flat=True)
    )
    if settings.WHATSAPP_VERIFY_TOKEN:
        candidates.append(settings.WHATSAPP_VERIFY_TOKEN)
    given = token.encode()
    matches = [hmac.compare_digest(given, c.encode()) for c in candidates]
    return any(matches)
