"""Meta WhatsApp Cloud API webhooks: signature check and envelope parsing (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components).

Nothing here touches the database: the Meta provider (chatbots.providers.meta) loads the
bots named by `routing_keys`, checks `verify_signature` against their app secrets, and the
webhook (chatbots.webhooks) hands what `parse_envelope` returns to
`chatbots.inbound.store_events`.

What a batch may contain: any number of `entry[] × changes[]`. Each change names its
`field`; FIELD_PARSERS maps a field to the function that turns the change's `value` into
normalized records. Parsed today: `messages` (`messages[]` -> InboundMessage,
`statuses[]` -> InboundStatus), `user_preferences` (a customer stopped or resumed
marketing messages, -> InboundPreference, stored as kind "preference" and applied to the
consent ledger by compliance.consent) and `smb_message_echoes` (what a coexistence
number's business typed in the WhatsApp Business app, -> InboundMessage of ECHO_TYPE,
handled by chatbots.echoes). The account-level fields (ACCOUNT_FIELDS: account_update,
message_template_*, template_category_update, phone_number_*) are parsed by
chatbots.providers.meta_account. Every other field (calls, group events, ...) is
acknowledged and dropped: counted in `chatbot_webhook_ignored_total{field}` and logged at
DEBUG.

Adding a field is one entry in FIELD_PARSERS: a function `(value, bot_key) -> list[Parsed]`.
The routing, signature check and deduplication then apply unchanged to every change that
carries `metadata.phone_number_id`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable

from prometheus_client import Counter

from chatbots.providers.base import ECHO_TYPE
from chatbots.providers.meta_content import (
    contact_for,
    content_of,
    errors_of,
    or_default,
    phone_of,
    timestamp_of,
)
from chatbots.wire import InboundMessage, InboundPreference, InboundStatus
from config import webhooks as webhook_json

logger = logging.getLogger(__name__)

PROVIDER = "meta"
OBJECT = "whatsapp_business_account"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="

# Webhook fields Meta documents for WhatsApp. Anything else is counted as "other", so a
# sender cannot grow the metric's label set without bound.
KNOWN_FIELDS = frozenset(
    {
        "messages",
        "account_alerts",
        "account_review_update",
        "account_settings_update",
        "account_update",
        "automatic_events",
        "business_capability_update",
        "business_status_update",
        "calls",
        "flows",
        "group_lifecycle_update",
        "group_participants_update",
        "group_settings_update",
        "group_status_update",
        "history",
        "message_echoes",
        "message_template_components_update",
        "message_template_quality_update",
        "message_template_status_update",
        "messaging_handovers",
        "partner_solutions",
        "payment_configuration_update",
        "phone_number_name_update",
        "phone_number_quality_update",
        "security",
        "smb_app_state_sync",
        "smb_message_echoes",
        "template_category_update",
        "template_correct_category_detection",
        "tracking_events",
        "user_preferences",
    }
)

# Account-level fields: routed by the WABA in `entry[].id` and parsed by
# chatbots.providers.meta_account, not here.
ACCOUNT_FIELDS = frozenset(
    {
        "account_update",
        "message_template_components_update",
        "message_template_quality_update",
        "message_template_status_update",
        "phone_number_name_update",
        "phone_number_quality_update",
        "template_category_update",
    }
)

WEBHOOK_IGNORED = Counter(
    "chatbot_webhook_ignored_total",
    "Well-formed webhook changes acknowledged but not stored (fields we do not handle)",
    ["field"],
)

Parsed = tuple[InboundMessage | InboundStatus | InboundPreference, dict]


class MetaPayloadError(ValueError):
    """The body is not a webhook envelope we can read; the text says which part."""


# --- Reading and authenticating the body -----------------------------------------------------


# The envelope last decoded on this thread, kept for the same body object: a webhook routes
# by its body and then parses it (chatbots.webhooks), and the JSON is decoded once for both.
_last = threading.local()


def load_envelope(body: bytes) -> dict:
    """Decode the raw body into the envelope dict, or raise MetaPayloadError. Callers read
    the envelope and never change it (a second call with the same body gets the same dict)."""
    if getattr(_last, "body", None) is body:
        return _last.envelope
    envelope = _decode(body)
    _last.body, _last.envelope = body, envelope
    return envelope


def _decode(body: bytes) -> dict:
    try:
        # What PostgreSQL or our code cannot take (NaN, \u0000, deep nesting) is refused
        # or replaced here, before any bot is looked up (config.webhooks.load_json).
        envelope = webhook_json.load_json(body)
    except webhook_json.JsonRefused as exc:
        raise MetaPayloadError(str(exc)) from None
    if not isinstance(envelope, dict):
        raise MetaPayloadError("body is JSON but not an object")
    return envelope


def verify_signature(*, body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256 of body keyed with secret>`
    (Meta: https://developers.facebook.com/docs/graph-api/webhooks/getting-started).

    The raw bytes are hashed, never re-serialized JSON; the comparison is constant-time.
    """
    if not header or not secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def is_whatsapp(envelope: dict) -> bool:
    return envelope.get("object") == OBJECT


def _changes(envelope: dict):
    """Yield (field, value) for every entry × change, checking the envelope's skeleton."""
    entries = or_default(envelope.get("entry"), [])
    if not isinstance(entries, list):
        raise MetaPayloadError("`entry` must be a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise MetaPayloadError("every `entry[]` item must be an object")
        changes = or_default(entry.get("changes"), [])
        if not isinstance(changes, list):
            raise MetaPayloadError("`entry[].changes` must be a list")
        for change in changes:
            if not isinstance(change, dict):
                raise MetaPayloadError("every `changes[]` item must be an object")
            value = or_default(change.get("value"), {})
            if not isinstance(value, dict):
                raise MetaPayloadError("`changes[].value` must be an object")
            yield str(change.get("field") or ""), value


def _bot_key(value: dict) -> str:
    metadata = or_default(value.get("metadata"), {})
    if not isinstance(metadata, dict):
        raise MetaPayloadError("`value.metadata` must be an object")
    key = metadata.get("phone_number_id")
    if key is None or key == "":
        return ""
    if not isinstance(key, str | int):
        raise MetaPayloadError("`metadata.phone_number_id` must be a string")
    return str(key)


def routing_keys(envelope: dict) -> set[str]:
    """Every `value.metadata.phone_number_id` the batch names, whatever the change's field.

    Changes without metadata (account_update, message_template_*, ...) name no bot.
    """
    return {key for _field, value in _changes(envelope) if (key := _bot_key(value))}


# --- Parsing -----------------------------------------------------------------------------------


def parse_envelope(envelope: dict) -> list[Parsed]:
    """Every message and status of the batch, normalized, each with its raw JSON.

    Call it only after the signature was verified. Fields without a parser are counted and
    dropped here (see the module docstring).
    """
    if not is_whatsapp(envelope):
        count_ignored(f"object:{envelope.get('object')}")
        return []
    parsed: list[Parsed] = []
    for field, value in _changes(envelope):
        parser = FIELD_PARSERS.get(field)
        if field in ACCOUNT_FIELDS:
            continue
        if parser is None:
            count_ignored(field)
            continue
        parsed.extend(parser(value, _bot_key(value)))
    return parsed


def count_ignored(field: str) -> None:
    WEBHOOK_IGNORED.labels(field=field if field in KNOWN_FIELDS else "other").inc()
    logger.debug("webhook change ignored", extra={"field": field[:64]})


def _list(value: dict, key: str) -> list:
    items = or_default(value.get(key), [])
    if not isinstance(items, list):
        raise MetaPayloadError(f"`value.{key}` must be a list")
    return items


def _parse_messages_change(value: dict, bot_key: str) -> list[Parsed]:
    """`field == "messages"`: customer messages and statuses of our own messages."""
    contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]
    value_errors = errors_of(value.get("errors"))
    if value_errors and not value.get("messages") and not value.get("statuses"):
        logger.warning(
            "webhook carried only errors",
            extra={"phone_number_id": bot_key, "codes": [e["code"] for e in value_errors]},
        )
    parsed: list[Parsed] = []
    for msg in _list(value, "messages"):
        if not isinstance(msg, dict) or not msg.get("id"):
            # Without Meta's id there is nothing to deduplicate on; never seen in practice.
            logger.error("webhook message without id skipped", extra={"phone_number_id": bot_key})
            continue
        contact = contact_for(msg, contacts)
        parsed.append(
            (
                parse_message(msg, bot_key=bot_key, contact=contact, value_errors=value_errors),
                {"message": msg, "contact": contact},
            )
        )
    for status in _list(value, "statuses"):
        if not isinstance(status, dict) or not status.get("id") or not status.get("status"):
            logger.error("webhook status without id skipped", extra={"phone_number_id": bot_key})
            continue
        parsed.append((parse_status(status, bot_key=bot_key), {"status": status}))
    return parsed


def _parse_user_preferences_change(value: dict, bot_key: str) -> list[Parsed]:
    """`field == "user_preferences"`: a customer stopped or resumed marketing messages in
    WhatsApp (`user_preferences[] = {wa_id, user_id?, category, value, detail, timestamp}`,
    corpus pywa-updates/user_marketing_preferences.json). Stored like messages and applied
    to the consent ledger by the worker (compliance.consent.preference_apply)."""
    contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]
    parsed: list[Parsed] = []
    for item in _list(value, "user_preferences"):
        if not isinstance(item, dict):
            continue
        wa_id = str(item.get("wa_id") or "")
        contact = next((c for c in contacts if wa_id and c.get("wa_id") == wa_id), None)
        if contact is None and not wa_id and len(contacts) == 1:
            contact = contacts[0]
        contact = contact or {}
        profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
        phone = phone_of(wa_id)
        user_id = str(item.get("user_id") or contact.get("user_id") or "")
        if not phone and not user_id:
            logger.error(
                "user_preferences without wa_id skipped", extra={"phone_number_id": bot_key}
            )
            continue
        category = str(item.get("category") or "")
        pref_value = str(item.get("value") or "").lower()
        raw_ts = item.get("timestamp")
        parsed.append(
            (
                InboundPreference(
                    provider=PROVIDER,
                    # Meta gives these updates no id: this one is the same for a retry.
                    external_id=f"pref:{phone or user_id}:{category}:{pref_value}:{raw_ts}"[:255],
                    bot_key=bot_key,
                    timestamp=timestamp_of(raw_ts),
                    category=category,
                    value=pref_value,
                    from_phone=phone,
                    from_user_id=user_id,
                    profile_name=str(profile.get("name") or ""),
                    detail=str(item.get("detail") or "")[:200],
                ),
                {"user_preference": item, "contact": contact or None},
            )
        )
    return parsed


def _parse_echoes_change(value: dict, bot_key: str) -> list[Parsed]:
    """`field == "smb_message_echoes"`: a message the business sent from the WhatsApp
    Business app (or a linked device) of a coexistence number, its edit or its deletion
    (Meta: https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/smb_message_echoes).

    `message_echoes[] = {from: <business number>, to: <customer>, to_user_id?, id,
    timestamp, type, <type>: {...}}`, the content shaped as a customer message's. Each is
    an InboundMessage of ECHO_TYPE keyed by the CUSTOMER (ordered with their messages), its
    own type in `data["echo_type"]`; the engine hands it to chatbots.echoes, never a turn.
    """
    contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    business = phone_of(str(metadata.get("display_phone_number") or ""))
    parsed: list[Parsed] = []
    for echo in _list(value, "message_echoes"):
        if not isinstance(echo, dict) or not echo.get("id"):
            logger.error("webhook echo without id skipped", extra={"phone_number_id": bot_key})
            continue
        # The customer is `to`; pywa's edit and deletion echoes have the two swapped
        # (corpus pywa-updates/outgoing_message.json), so it is whichever is not us.
        numbers = (phone_of(str(echo.get("to") or "")), phone_of(str(echo.get("from") or "")))
        customer = next((n for n in numbers if n and n != business), "")
        contact = next(
            (c for c in contacts if customer and phone_of(str(c.get("wa_id") or "")) == customer),
            contacts[0] if len(contacts) == 1 else {},
        )
        customer = customer or phone_of(str(contact.get("wa_id") or ""))
        user_id = str(echo.get("to_user_id") or contact.get("user_id") or "")
        if not customer and not user_id:
            logger.error(
                "webhook echo without its customer skipped", extra={"phone_number_id": bot_key}
            )
            continue
        text, _reply_id, data = content_of(echo)
        data["echo_type"] = str(echo.get("type") or "unknown")
        message = InboundMessage(
            provider=PROVIDER,
            external_id=str(echo["id"]),
            bot_key=bot_key,
            timestamp=timestamp_of(echo.get("timestamp")),
            type=ECHO_TYPE,
            from_phone=customer,
            from_user_id=user_id,
            text=text,
            data=data,
        )
        parsed.append((message, {"message_echo": echo, "contact": contact or None}))
    return parsed


FIELD_PARSERS: dict[str, Callable[[dict, str], list[Parsed]]] = {
    "messages": _parse_messages_change,
    "user_preferences": _parse_user_preferences_change,
    "smb_message_echoes": _parse_echoes_change,
}


def parse_message(
    msg: dict, *, bot_key: str, contact: dict | None = None, value_errors: list | None = None
) -> InboundMessage:
    """One `messages[]` item (plus its `contacts[]` item) as an InboundMessage."""
    contact = contact or {}
    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
    msg_type = str(msg.get("type") or "unknown")
    text, reply_id, data = content_of(msg)
    raw_from = str(msg.get("from") or contact.get("wa_id") or "")
    from_phone = phone_of(raw_from)
    if raw_from and not from_phone:
        data["from"] = raw_from  # not a phone number (placeholder, group id): keep it visible
    if profile.get("username"):
        data["username"] = str(profile["username"])
    if contact.get("parent_user_id"):
        data["parent_user_id"] = str(contact["parent_user_id"])
    context = msg.get("context") if isinstance(msg.get("context"), dict) else {}
    if extras := {k: v for k, v in context.items() if k != "id"}:
        data["context"] = extras  # forwarded flags, referred_product, the quoted sender
    if isinstance(msg.get("referral"), dict):
        data["referral"] = msg["referral"]  # Click-to-WhatsApp ad or post
    errors = errors_of(msg.get("errors")) + list(value_errors or [])
    if errors:
        data["errors"] = errors
    return InboundMessage(
        provider=PROVIDER,
        external_id=str(msg["id"]),
        bot_key=bot_key,
        timestamp=timestamp_of(msg.get("timestamp")),
        type=msg_type,
        from_phone=from_phone,
        from_user_id=str(msg.get("from_user_id") or contact.get("user_id") or ""),
        profile_name=str(profile.get("name") or ""),
        text=text,
        reply_id=reply_id,
        context_id=str(context.get("id") or ""),
        data=data,
    )


def parse_status(status: dict, *, bot_key: str) -> InboundStatus:
    """One `statuses[]` item as an InboundStatus; a failure keeps Meta's first error."""
    errors = errors_of(status.get("errors"))
    first = errors[0] if errors else {}
    raw_recipient = str(status.get("recipient_id") or "")
    recipient = (
        phone_of(raw_recipient) or raw_recipient or str(status.get("recipient_user_id") or "")
    )
    return InboundStatus(
        provider=PROVIDER,
        external_id=str(status["id"]),
        bot_key=bot_key,
        status=str(status["status"]).lower(),
        timestamp=timestamp_of(status.get("timestamp")),
        recipient=recipient,
        error_code=first.get("code", ""),
        error_title=first.get("title", ""),
        error_detail=first.get("details") or first.get("message", ""),
    )
