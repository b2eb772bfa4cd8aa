"""Provider webhooks. Thin: read, authenticate, parse, store, answer 200 fast.

Meta asks for a median answer under 250 ms and retries anything but 200 for up to 7 days
(Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started), so the POST looks up the bots the batch names (cached for a few seconds:
chatbots/routing.py), does one INSERT (every message and status of the batch), and
processing happens in Celery after commit.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import Counter

from chatbots import inbound, routing
from chatbots.models import Chatbot
from chatbots.providers import meta_inbound

logger = logging.getLogger(__name__)

WEBHOOK_REJECTED = Counter(
    "chatbot_webhook_rejected_total",
    "Webhook requests refused, by provider and reason",
    ["provider", "reason"],
)


def _refuse(status: int, reason: str, detail: str) -> JsonResponse:
    WEBHOOK_REJECTED.labels(provider=meta_inbound.PROVIDER, reason=reason).inc()
    return JsonResponse({"error": reason, "detail": detail}, status=status)


@method_decorator(csrf_exempt, name="dispatch")
class MetaWebhookView(View):
    """`GET/POST /api/chatbots/webhook/`: Meta WhatsApp Cloud API (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

    GET (subscription check, §1.1): 200 with `hub.challenge` as plain text when
    `hub.mode == "subscribe"` and `hub.verify_token` equals the verify token of an active
    bot or WHATSAPP_VERIFY_TOKEN; otherwise 403.

    POST, in this order; every refusal stores nothing:

    * 413 when the body is over WEBHOOK_MAX_BODY_BYTES (Meta's 3 MB), by Content-Length
      before reading and by the bytes actually read;
    * 400 when the body is not a JSON object or its entry/changes skeleton is broken;
    * `object` other than "whatsapp_business_account" (another product of the same Meta
      app): checked against WHATSAPP_APP_SECRET when that is set, then acknowledged with
      200 and ignored;
    * 404 when a `value.metadata.phone_number_id` of the batch matches no bot (the id is
      logged). Meta keeps retrying for 7 days, so messages to a number registered late
      still arrive once its bot is created;
    * 401 when `X-Hub-Signature-256` is missing or wrong. Meta signs with the APP secret,
      one per Meta app; a batch names only numbers of one app, which share it. So the
      signature must match the app secret of EVERY bot the batch names (a bot without
      one uses WHATSAPP_APP_SECRET); bots with different secrets in one batch, or a bot
      with no secret at all, mean 401;
    * a batch naming no bot at all (account_update, message_template_*: no metadata) is
      checked against WHATSAPP_APP_SECRET when set (401 if wrong) and answered 200
      without storing anything: there is no bot to store it for, and an unverified body
      that stores nothing can do no harm;
    * otherwise every message and status is stored once (duplicates skipped) and 200.

    Inactive bots still get their events stored: the engine records the customer's
    messages and does not reply.
    """

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> HttpResponse:
        mode = request.GET.get("hub.mode", "")
        token = request.GET.get("hub.verify_token", "")
        challenge = request.GET.get("hub.challenge", "")
        if mode == "subscribe" and token and challenge and _known_verify_token(token):
            return HttpResponse(challenge, content_type="text/plain")
        logger.warning("webhook verification refused", extra={"hub_mode": mode[:32]})
        return HttpResponse(status=403)

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _read_body(request)
        if isinstance(body, HttpResponse):
            return body
        signature = request.META.get(meta_inbound.SIGNATURE_HEADER)
        try:
            envelope = meta_inbound.load_envelope(body)
            whatsapp = meta_inbound.is_whatsapp(envelope)
            keys = meta_inbound.routing_keys(envelope) if whatsapp else set()
        except meta_inbound.MetaPayloadError as exc:
            return _refuse(400, "malformed", str(exc))

        if keys:
            bots = routing.routes_for(keys)
            if unknown := sorted(keys - bots.keys()):
                logger.warning(
                    "webhook for unknown phone_number_id; create its bot or remove the number "
                    "from the Meta app",
                    extra={"phone_number_ids": unknown},
                )
                return _refuse(404, "unknown_phone_number_id", ", ".join(unknown))
            refusal = _check_signature(body, signature, list(bots.values()))
        else:
            bots = {}
            refusal = _check_global_signature(body, signature)
        if refusal:
            return refusal

        try:
            parsed = meta_inbound.parse_envelope(envelope)
        except meta_inbound.MetaPayloadError as exc:
            return _refuse(400, "malformed", str(exc))
        events = [(bots[item.bot_key], item, raw) for item, raw in parsed if item.bot_key in bots]
        if len(events) < len(parsed):
            # A `messages` change without metadata names no bot: nothing to store it for.
            logger.warning(
                "webhook updates without phone_number_id dropped",
                extra={"dropped": len(parsed) - len(events)},
            )
        inbound.store_events(events=events)
        return JsonResponse({"status": "ok"})


def _read_body(request: HttpRequest) -> bytes | HttpResponse:
    """The raw body (the signature covers these exact bytes), or 413 over the limit."""
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
        return _refuse(413, "too_large", f"body over {limit} bytes")
    return body


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


def _check_global_signature(body: bytes, signature: str | None) -> JsonResponse | None:
    """A batch naming no bot: WHATSAPP_APP_SECRET when set, else nothing to check against
    (the batch stores nothing either way)."""
    secret = settings.WHATSAPP_APP_SECRET
    if secret and not meta_inbound.verify_signature(body=body, header=signature, secret=secret):
        return _refuse(401, "bad_signature", "X-Hub-Signature-256 does not match")
    return None


def _check_signature(
    body: bytes, signature: str | None, bots: list[routing.BotRoute]
) -> JsonResponse | None:
    """The signature must match the app secret of every bot the batch names."""
    secrets: set[str] = set()
    for bot in bots:
        secret = (bot.app_secret or settings.WHATSAPP_APP_SECRET or "").strip()
        if not secret:
            logger.error(
                "webhook refused: bot has no app secret; set it on the bot or WHATSAPP_APP_SECRET",
                extra={"chatbot_id": bot.pk},
            )
            return _refuse(401, "no_app_secret", "the bot has no app secret configured")
        secrets.add(secret)
    if not signature:
        return _refuse(401, "missing_signature", "X-Hub-Signature-256 header is required")
    if not all(
        meta_inbound.verify_signature(body=body, header=signature, secret=s) for s in secrets
    ):
        logger.warning(
            "webhook signature mismatch",
            extra={
                "chatbot_ids": sorted(bot.pk for bot in bots),
                "distinct_app_secrets": len(secrets),
            },
        )
        return _refuse(401, "bad_signature", "X-Hub-Signature-256 does not match")
    return None
