"""Reading the WhatsApp Web (Baileys) message object that Evolution API and Whaticket relay.

Both gateways run on an unofficial WhatsApp Web connection and pass on the same
`message` object (`{"conversation": "oi"}`, `{"extendedTextMessage": {"text": ...}}`,
`{"buttonsResponseMessage": {...}}`, ...), so one reader serves both (Evolution API: https://doc.evolution-api.com/v2/en/configuration/webhooks; Whaticket: https://github.com/canove/whaticket-community).

Where the text sits differs by version: Evolution v2.2+ normalizes it into `conversation`;
v1.x and raw Baileys keep `extendedTextMessage.text` for replies and links. Both are read.
Wrappers (`ephemeralMessage`, `viewOnceMessage[V2]`, `documentWithCaptionMessage`) are
opened first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from chatbots.wire import MEDIA_KINDS

WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)
MEDIA_KEYS = {f"{kind}Message": kind for kind in MEDIA_KINDS}

# type, text, reply_id, data
Content = tuple[str, str, str, dict[str, Any]]


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def unwrap(message: dict) -> dict:
    """The inner message of disappearing, view-once and captioned-document wrappers."""
    for _depth in range(4):
        for key in WRAPPERS:
            inner = _dict(_dict(message.get(key)).get("message"))
            if inner:
                message = inner
                break
        else:
            return message
    return message


def content(message: Any) -> Content:
    """(type, text, reply_id, data) of a Baileys message object.

    Types follow the normalized InboundMessage types: text, interactive (a button or list
    reply: `text` is the title the customer saw, `reply_id` the id we gave it), image,
    video, audio, document, sticker, location, contacts, reaction, revoke, unsupported.
    """
    message = unwrap(_dict(message))
    if isinstance(message.get("conversation"), str) and message["conversation"]:
        return "text", message["conversation"], "", {}
    extended = _dict(message.get("extendedTextMessage"))
    if extended.get("text"):
        return "text", str(extended["text"]), "", {}
    buttons = _dict(message.get("buttonsResponseMessage"))
    if buttons:
        return (
            "interactive",
            str(buttons.get("selectedDisplayText") or ""),
            str(buttons.get("selectedButtonId") or ""),
            {"interactive_type": "button_reply"},
        )
    listed = _dict(message.get("listResponseMessage"))
    if listed:
        row = _dict(listed.get("singleSelectReply"))
        return (
            "interactive",
            str(listed.get("title") or ""),
            str(row.get("selectedRowId") or ""),
            {"interactive_type": "list_reply"},
        )
    template = _dict(message.get("templateButtonReplyMessage"))
    if template:
        return (
            "button",
            str(template.get("selectedDisplayText") or ""),
            str(template.get("selectedId") or ""),
            {},
        )
    for key, kind in MEDIA_KEYS.items():
        media = _dict(message.get(key))
        if media:
            # Named as Meta's (chatbots.providers.meta_content) so media reads one shape.
            # The WhatsApp CDN `url` is left out: those bytes are end-to-end encrypted
            # (`mediaKey`); the gateway hands the plain file (media downloads it).
            keep = {
                "mimetype": "mime_type",
                "fileName": "filename",
                "fileLength": "file_size",
                "seconds": "seconds",
                "ptt": "voice",
            }
            data = {
                "media": {ours: media[k] for k, ours in keep.items() if media.get(k) is not None}
            }
            return kind, str(media.get("caption") or ""), "", data
    location = _dict(message.get("locationMessage") or message.get("liveLocationMessage"))
    if location:
        keys = {"degreesLatitude": "latitude", "degreesLongitude": "longitude"}
        loc = {ours: location[theirs] for theirs, ours in keys.items() if theirs in location}
        for extra in ("name", "address"):
            if location.get(extra):
                loc[extra] = location[extra]
        return "location", "", "", {"location": loc}
    if message.get("contactMessage") or message.get("contactsArrayMessage"):
        return (
            "contacts",
            "",
            "",
            {"contacts": message.get("contactMessage") or message.get("contactsArrayMessage")},
        )
    reaction = _dict(message.get("reactionMessage"))
    if reaction:
        emoji = str(reaction.get("text") or "")
        target = str(_dict(reaction.get("key")).get("id") or "")
        return "reaction", emoji, "", {"reaction": {"message_id": target, "emoji": emoji}}
    protocol = _dict(message.get("protocolMessage"))
    if protocol:
        # REVOKE (0) is "deleted for everyone"; others are edits and ephemeral settings.
        kind = "revoke" if protocol.get("type") in (0, "REVOKE") else "ephemeral"
        return (
            kind,
            "",
            "",
            {"original_message_id": str(_dict(protocol.get("key")).get("id") or "")},
        )
    keys = sorted(k for k in message if k not in ("messageContextInfo",))
    return "unsupported", "", "", {"unsupported_type": ",".join(keys)[:120]}


def jid_user(jid: str) -> str:
    """The user part of a JID: "5511999999999:12@s.whatsapp.net" -> "5511999999999"."""
    return str(jid or "").split("@", 1)[0].split(":", 1)[0]


def is_group_or_broadcast(jid: str) -> bool:
    """Groups (@g.us), status broadcasts and channels (@newsletter) are not customers."""
    jid = str(jid or "")
    return jid.endswith(("@g.us", "@broadcast", "@newsletter"))


def timestamp_seconds(raw: Any) -> int | None:
    """`messageTimestamp`: Unix seconds, as a number, a string, or a protobuf Long
    (`{"low": ..., "high": ..., "unsigned": ...}`) in some v1 builds."""
    if isinstance(raw, dict):
        try:
            return int(raw.get("low") or 0) + (int(raw.get("high") or 0) << 32)
        except (TypeError, ValueError):
            return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def moment(seconds: int | None) -> datetime:
    """The time `seconds` (Unix, from timestamp_seconds) names; now when it is missing or
    out of range (a gateway's clock or a malformed field must not lose the message)."""
    if not seconds:
        return timezone.now()
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return timezone.now()
