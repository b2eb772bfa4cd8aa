"""Meta Cloud API messages' content, by type, and the small readers the webhook parsers share.

chatbots.providers.meta_inbound walks the envelope and its fields; this module turns one
message object (a customer's `messages[]` item or a business echo's `message_echoes[]` item,
shaped alike) into (text, reply_id, data), and reads Meta's phone numbers, timestamps and
error lists. Meta's message object reference:
https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components#messages-object
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from chatbots.wire import MEDIA_KINDS
from clientes.phones import InvalidPhone, normalize_phone
from config import webhooks as webhook_json

# --- Message content, by type ----------------------------------------------------------------

Content = tuple[str, str, dict[str, Any]]  # text, reply_id, data
# A Flow's answers are a form's fields: a few levels deep at most.
FLOW_RESPONSE_MAX_DEPTH = 16


def content_of(msg: dict) -> Content:
    msg_type = str(msg.get("type") or "unknown")
    body = msg.get(msg_type)
    if not isinstance(body, list if msg_type == "contacts" else dict):
        body = [] if msg_type == "contacts" else {}
    return CONTENT_PARSERS.get(msg_type, _other)(msg_type, body, msg)


def _text(_type: str, body: dict, _msg: dict) -> Content:
    return str(body.get("body") or ""), "", {}


def _interactive(_type: str, body: dict, _msg: dict) -> Content:
    kind = str(body.get("type") or "")
    reply = body.get(kind) if isinstance(body.get(kind), dict) else {}
    data: dict[str, Any] = {"interactive_type": kind} if kind else {}
    if kind in ("button_reply", "list_reply"):
        if reply.get("description"):
            data["description"] = str(reply["description"])
        return str(reply.get("title") or ""), str(reply.get("id") or ""), data
    if kind == "nfm_reply":  # a Flow was completed; its answers come as a JSON string
        raw = reply.get("response_json") or "{}"
        try:
            # The same rules as the body's (config.webhooks.load_json), and shallower, as
            # the answers end up nested in the message's payload: anything else is kept
            # as the string it came as.
            response = (
                webhook_json.load_json(raw, max_depth=FLOW_RESPONSE_MAX_DEPTH)
                if isinstance(raw, str)
                else raw
            )
        except webhook_json.JsonRefused:
            response = {"response_json": raw}
        data["flow"] = {"name": reply.get("name", ""), "response": response}
        token = response.get("flow_token", "") if isinstance(response, dict) else ""
        return str(reply.get("body") or ""), str(token), data
    if reply:
        data[kind] = reply  # call_permission_reply and whatever Meta adds next
    return "", "", data


def _template_button(_type: str, body: dict, _msg: dict) -> Content:
    # A quick-reply tap on a template button: payload is what we put there when sending.
    return str(body.get("text") or ""), str(body.get("payload") or ""), {}


def _media(msg_type: str, body: dict, _msg: dict) -> Content:
    media = {
        "id": body.get("id"),
        "mime_type": body.get("mime_type"),
        "sha256": body.get("sha256"),
        "url": body.get("url"),  # newer, optional; needs the bearer token
        "filename": body.get("filename"),  # document
        "voice": body.get("voice"),  # audio: a voice note
        "animated": body.get("animated"),  # sticker
    }
    return (
        str(body.get("caption") or ""),
        "",
        {"media": {k: v for k, v in media.items() if v is not None}},
    )


def _location(_type: str, body: dict, _msg: dict) -> Content:
    keys = ("latitude", "longitude", "name", "address", "url")
    return "", "", {"location": {k: body[k] for k in keys if body.get(k) is not None}}


def _contacts(_type: str, body: list, _msg: dict) -> Content:
    return "", "", {"contacts": body}


def _order(_type: str, body: dict, _msg: dict) -> Content:
    items = [
        {
            "product_retailer_id": str(item.get("product_retailer_id") or ""),
            "quantity": item.get("quantity"),
            "item_price": item.get("item_price"),
            "currency": item.get("currency"),
        }
        for item in as_list(body.get("product_items"))
        if isinstance(item, dict)
    ]
    order = {"catalog_id": str(body.get("catalog_id") or ""), "product_items": items}
    return str(body.get("text") or ""), "", {"order": order}


def _reaction(_type: str, body: dict, _msg: dict) -> Content:
    emoji = str(body.get("emoji") or "")
    # An empty or missing emoji means the customer removed the reaction.
    reaction = {"message_id": str(body.get("message_id") or ""), "emoji": emoji}
    return emoji, "", {"reaction": reaction, "removed": not emoji}


def _system(_type: str, body: dict, msg: dict) -> Content:
    data: dict[str, Any] = {"system": body}
    if isinstance(msg.get("identity"), dict):
        data["identity"] = msg["identity"]
    return str(body.get("body") or ""), "", data


def _unsupported(_type: str, body: dict, _msg: dict) -> Content:
    data = {"unsupported_type": str(body["type"])} if body.get("type") else {}
    return "", "", data


def _revoke(_type: str, body: dict, _msg: dict) -> Content:
    return "", "", {"original_message_id": str(body.get("original_message_id") or "")}


def _edit(_type: str, body: dict, _msg: dict) -> Content:
    inner = body.get("message") if isinstance(body.get("message"), dict) else {}
    text, reply_id, inner_data = content_of(inner) if inner else ("", "", {})
    data = {
        "original_message_id": str(body.get("original_message_id") or ""),
        "edited_type": str(inner.get("type") or ""),
        **inner_data,
    }
    return text, reply_id, data


def _other(msg_type: str, body: Any, _msg: dict) -> Content:
    return "", "", ({msg_type: body} if body else {})


CONTENT_PARSERS: dict[str, Callable[[str, Any, dict], Content]] = {
    "text": _text,
    "interactive": _interactive,
    "button": _template_button,
    **{kind: _media for kind in MEDIA_KINDS},
    "location": _location,
    "contacts": _contacts,
    "order": _order,
    "reaction": _reaction,
    "system": _system,
    "unsupported": _unsupported,
    "unknown": _unsupported,
    "revoke": _revoke,
    "edit": _edit,
}


# --- Small helpers -------------------------------------------------------------------------------


def contact_for(msg: dict, contacts: list[dict]) -> dict | None:
    """The `contacts[]` item of the message's sender (by wa_id, then BSUID, then the only one)."""
    sender, user_id = msg.get("from"), msg.get("from_user_id")
    for contact in contacts:
        if sender and contact.get("wa_id") == sender:
            return contact
    for contact in contacts:
        if user_id and contact.get("user_id") == user_id:
            return contact
    return contacts[0] if len(contacts) == 1 else None


def or_default(value: Any, default: Any) -> Any:
    """`value`, or `default` when absent (None): unlike `or`, a wrong-typed empty stays wrong."""
    return default if value is None else value


def as_list(raw: Any) -> list:
    return raw if isinstance(raw, list) else []


def phone_of(raw: str) -> str:
    """Meta's wa_id always carries its country code: never prepend Brazil's."""
    if not raw or not raw.lstrip("+").isdigit():
        return ""
    try:
        return normalize_phone("+" + raw.lstrip("+"))
    except InvalidPhone:
        return ""


def timestamp_of(raw: Any) -> datetime:
    """Meta's `timestamp` is Unix seconds as a string."""
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


def errors_of(raw: Any) -> list[dict[str, str]]:
    out = []
    for err in as_list(raw):
        if not isinstance(err, dict):
            continue
        error_data = err.get("error_data") if isinstance(err.get("error_data"), dict) else {}
        out.append(
            {
                "code": str(err.get("code") or ""),
                "title": str(err.get("title") or ""),
                "message": str(err.get("message") or ""),
                "details": str(error_data.get("details") or ""),
            }
        )
    return out
