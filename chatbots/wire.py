"""The normalized message shapes: what providers parse into and what handlers return.

Nothing above the provider layer sees a provider's JSON. WhatsApp's limits are enforced
when a message is built (MessageLimitError), never discovered as an error from Meta.
Limits: Meta docs "messages/send-messages" and the v23.0 OpenAPI schemas (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Self

TEXT_MAX = 4096  # text.body
INTERACTIVE_BODY_MAX = 1024  # interactive.body.text
HEADER_MAX = 60  # interactive.header.text
FOOTER_MAX = 60  # interactive.footer.text
BUTTONS_MAX = 3  # reply buttons per message
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10  # rows in total across all sections
LIST_SECTIONS_MAX = 10
LIST_BUTTON_MAX = 20  # the list's open button label
LIST_SECTION_TITLE_MAX = 24
LIST_ROW_TITLE_MAX = 24
LIST_ROW_ID_MAX = 200
LIST_ROW_DESCRIPTION_MAX = 72
CAPTION_MAX = 1024
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")


class MessageLimitError(ValueError):
    """A message breaks a WhatsApp limit; the text names the limit and the offending value."""


def _check_len(what: str, value: str, limit: int, *, required: bool = True) -> None:
    if required and not (value or "").strip():
        raise MessageLimitError(f"{what} must not be empty")
    if value and len(value) > limit:
        raise MessageLimitError(
            f"{what} has {len(value)} characters; WhatsApp allows at most {limit}: {value[:40]!r}"
        )


# --- Inbound -----------------------------------------------------------------------------


class _Record:
    """JSON round trip of the inbound records, as stored in InboundEvent.payload: the
    dataclass's fields, with `timestamp` as ISO 8601."""

    timestamp: datetime

    def to_dict(self) -> dict:
        # One level, not dataclasses.asdict: the fields are plain values and `data` is already
        # JSON (a parsed webhook), which asdict would deep-copy on every stored message.
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["timestamp"] = self.timestamp.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Self:
        d = dict(d)
        d["timestamp"] = datetime.fromisoformat(d["timestamp"])
        return cls(**d)


@dataclass
class InboundMessage(_Record):
    """One customer message, whatever the provider.

    `text` is what the customer said or tapped (body, button/row title, caption);
    `reply_id` is the id of the tapped button / list row / template button payload, so
    handlers can match taps exactly and typed text loosely.
    """

    provider: str
    external_id: str
    bot_key: str  # phone_number_id for Meta; provider-specific routing key otherwise
    timestamp: datetime
    type: str  # text, interactive, button, image, ..., location, contacts, order, reaction, system, unsupported
    from_phone: str = ""  # digits; empty when Meta omits it (usernames, 2026)
    from_user_id: str = ""  # business-scoped user id (BSUID) when given
    profile_name: str = ""
    text: str = ""
    reply_id: str = ""
    context_id: str = ""  # the business message this one replies to
    data: dict[str, Any] = field(default_factory=dict)  # type-specific extras (media, order...)

    @property
    def contact_key(self) -> str:
        return self.from_phone or self.from_user_id


@dataclass
class InboundStatus(_Record):
    """A delivery status for one of our outbound messages."""

    provider: str
    external_id: str  # the provider's id of OUR message (wamid)
    bot_key: str
    status: str  # sent, delivered, read, failed, played, ...
    timestamp: datetime
    recipient: str = ""
    error_code: str = ""
    error_title: str = ""
    error_detail: str = ""


@dataclass
class InboundPreference(_Record):
    """A customer's messaging preference reported by the provider: Meta's `user_preferences`
    webhook (category "marketing_messages", value "stop" | "resume" | "signup"). Applied to
    the consent ledger by compliance.consent.preference_apply."""

    provider: str
    external_id: str  # built from the contact, value and timestamp: Meta sends no id
    bot_key: str
    timestamp: datetime
    category: str
    value: str
    from_phone: str = ""
    from_user_id: str = ""
    profile_name: str = ""
    detail: str = ""

    @property
    def contact_key(self) -> str:
        return self.from_phone or self.from_user_id


# InboundAccountEvent.field of an Evolution instance's connection change (value: "state",
# "status_reason"; chatbots.providers.evolution.parse_connection).
CONNECTION_FIELD = "evolution_connection"


@dataclass
class InboundAccountEvent(_Record):
    """News about a WhatsApp Business Account rather than a customer: a template's status,
    quality or category, a number's quality and messaging limit, a restriction or ban
    (Meta's account-level webhook fields; chatbots.providers.meta_account). Applied by
    chatbots.account_events."""

    provider: str
    external_id: str  # built from the field, the WABA, the time and the value: Meta sends no id
    bot_key: str  # "waba:<WABA id>" (chatbots.providers.meta_account.waba_key)
    timestamp: datetime
    field: str
    waba_id: str
    value: dict[str, Any] = field(default_factory=dict)


# --- Outbound ----------------------------------------------------------------------------


class Outbound:
    """Base of what a handler may ask the bot to say."""

    kind: ClassVar[str]

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    @property
    def preview(self) -> str:
        """A plain-text rendering, stored in Message.text and used by text-only providers."""
        raise NotImplementedError


@dataclass
class Text(Outbound):
    kind: ClassVar[str] = "text"
    body: str
    preview_url: bool = False

    def __post_init__(self):
        _check_len("text body", self.body, TEXT_MAX)

    @property
    def preview(self) -> str:
        return self.body


@dataclass
class Button:
    id: str
    title: str

    def __post_init__(self):
        _check_len("button title", self.title, BUTTON_TITLE_MAX)
        _check_len("button id", self.id, BUTTON_ID_MAX)


@dataclass
class Buttons(Outbound):
    kind: ClassVar[str] = "buttons"
    body: str
    buttons: list[Button]
    header: str = ""
    footer: str = ""

    def __post_init__(self):
        self.buttons = [b if isinstance(b, Button) else Button(**b) for b in self.buttons]
        _check_len("interactive body", self.body, INTERACTIVE_BODY_MAX)
        _check_len("header", self.header, HEADER_MAX, required=False)
        _check_len("footer", self.footer, FOOTER_MAX, required=False)
        if not 1 <= len(self.buttons) <= BUTTONS_MAX:
            raise MessageLimitError(
                f"{len(self.buttons)} reply buttons; WhatsApp allows 1 to {BUTTONS_MAX}"
            )
        titles = [b.title for b in self.buttons]
        ids = [b.id for b in self.buttons]
        if len(set(titles)) != len(titles) or len(set(ids)) != len(ids):
            raise MessageLimitError(f"reply button titles and ids must be unique: {titles}")

    @property
    def preview(self) -> str:
        lines = [self.header, self.body] if self.header else [self.body]
        lines += [f"{i}. {b.title}" for i, b in enumerate(self.buttons, 1)]
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)


@dataclass
class Row:
    id: str
    title: str
    description: str = ""

    def __post_init__(self):
        _check_len("list row title", self.title, LIST_ROW_TITLE_MAX)
        _check_len("list row id", self.id, LIST_ROW_ID_MAX)
        _check_len(
            "list row description", self.description, LIST_ROW_DESCRIPTION_MAX, required=False
        )


@dataclass
class Section:
    title: str
    rows: list[Row]

    def __post_init__(self):
        self.rows = [r if isinstance(r, Row) else Row(**r) for r in self.rows]
        _check_len("list section title", self.title, LIST_SECTION_TITLE_MAX, required=False)
        if not self.rows:
            raise MessageLimitError("a list section needs at least one row")


@dataclass
class ListMessage(Outbound):
    kind: ClassVar[str] = "list"
    body: str
    button: str
    sections: list[Section]
    header: str = ""
    footer: str = ""

    def __post_init__(self):
        self.sections = [s if isinstance(s, Section) else Section(**s) for s in self.sections]
        _check_len("interactive body", self.body, INTERACTIVE_BODY_MAX)
        _check_len("list button", self.button, LIST_BUTTON_MAX)
        _check_len("header", self.header, HEADER_MAX, required=False)
        _check_len("footer", self.footer, FOOTER_MAX, required=False)
        if not 1 <= len(self.sections) <= LIST_SECTIONS_MAX:
            raise MessageLimitError(
                f"{len(self.sections)} list sections; WhatsApp allows 1 to {LIST_SECTIONS_MAX}"
            )
        rows = [r for s in self.sections for r in s.rows]
        # Meta's schema says 10 per section, its docs say 10 in total: enforce the stricter.
        if len(rows) > LIST_ROWS_MAX:
            raise MessageLimitError(
                f"{len(rows)} list rows; WhatsApp allows at most {LIST_ROWS_MAX} in total"
            )
        if len(self.sections) > 1 and not all(s.title for s in self.sections):
            raise MessageLimitError("every section needs a title when there is more than one")
        ids = [r.id for r in rows]
        if len(set(ids)) != len(ids):
            raise MessageLimitError("list row ids must be unique")

    @property
    def rows(self) -> list[Row]:
        return [r for s in self.sections for r in s.rows]

    @property
    def preview(self) -> str:
        lines = [self.header, self.body] if self.header else [self.body]
        lines += [
            f"{i}. {r.title}" + (f" – {r.description}" if r.description else "")
            for i, r in enumerate(self.rows, 1)
        ]
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)


@dataclass
class Media(Outbound):
    kind: ClassVar[str] = "media"
    media_type: str  # image, video, audio, document, sticker
    link: str = ""
    media_id: str = ""
    caption: str = ""
    filename: str = ""
    # A file kept in Django's default storage (the app media), by its name: gateways that
    # take the file itself (Evolution, Whaticket) send its bytes; Meta takes a media_id.
    stored: str = ""

    def __post_init__(self):
        if self.media_type not in MEDIA_KINDS:
            raise MessageLimitError(f"unknown media type {self.media_type!r}; use {MEDIA_KINDS}")
        if [bool(self.link), bool(self.media_id), bool(self.stored)].count(True) != 1:
            raise MessageLimitError("media needs exactly one of link or media_id (or stored)")
        _check_len("caption", self.caption, CAPTION_MAX, required=False)
        if self.caption and self.media_type in ("audio", "sticker"):
            raise MessageLimitError(f"{self.media_type} messages cannot carry a caption")

    @property
    def preview(self) -> str:
        source = self.link or self.media_id or self.filename or self.media_type
        return self.caption or f"[{self.media_type}] {source}"


@dataclass
class Template(Outbound):
    """A template by name and language, with the values of its parameters.

    `params` are the body's values in order; `named` the values of a template with named
    parameters; `header` the header text's value or its media link; `buttons` the values
    of its dynamic buttons (a URL's suffix, a copy code). The outbox fills `components`
    (Meta's) and `rendered` (the text the customer reads) from the stored definition just
    before sending (chatbots.outbox.window.template_resolve).
    """

    kind: ClassVar[str] = "template"
    name: str
    language: str = "pt_BR"
    params: list[str] = field(default_factory=list)  # body parameters, in order
    named: dict[str, str] = field(default_factory=dict)
    header: str = ""
    buttons: list[str] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    rendered: str = ""

    def __post_init__(self):
        _check_len("template name", self.name, 512)

    @property
    def preview(self) -> str:
        if self.rendered:
            return self.rendered
        values = list(self.params) or [f"{k}={v}" for k, v in self.named.items()]
        return f"[template {self.name}] " + " | ".join(values)


OUTBOUND_KINDS: dict[str, type[Outbound]] = {
    cls.kind: cls for cls in (Text, Buttons, ListMessage, Media, Template)
}


def outbound_from_dict(d: dict) -> Outbound:
    d = dict(d)
    kind = d.pop("kind")
    try:
        cls = OUTBOUND_KINDS[kind]
    except KeyError:
        raise MessageLimitError(f"unknown outbound message kind {kind!r}") from None
    return cls(**d)
