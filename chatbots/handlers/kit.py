"""Building blocks of the handlers: the coded chat flows (chatbots.handlers.pedidos and
.agenda) and, for their config checks, the JSON-configured ones (chatbots.handlers.generic).

Both flows offer choices the same way: reply buttons for a few fixed options, and WhatsApp
lists paged with "Ver mais" / "Voltar" rows for catalogs (categories, products, services,
times). The customer may tap, type the number shown or type (part of) the name. Catalog
names come from the business, so they are cut to WhatsApp's field limits here rather than
refused (the generic, config-driven handlers refuse instead: their texts are typed by staff
in a form that can say what is too long).

Configs are checked two ways, both below. The JSON-configured handlers
(chatbots.handlers.generic) use `ConfigErrors`, which lists every problem at once and checks
lengths; the coded flows take one optional key or none ("text", "max_quantidade") and report
the first problem only, with `only_keys`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from chatbots import wire as wa
from chatbots.handlers.base import Context, Handler
from chatbots.text import match_option, normalize

T = TypeVar("T")

# Ids of the navigation rows are "<prefix>:mais" and "<prefix>:voltar".
MORE = "mais"
BACK = "voltar"
# What a customer types for them, in normalize()d form (no accents, lower case).
MORE_WORDS: tuple[str, ...] = ("mais", "ver mais", "proxima", "proximos")
BACK_WORDS: tuple[str, ...] = ("voltar", "volta")
# WhatsApp allows 10 list rows in total (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages): 8 items + "Ver mais" + "Voltar".
PAGE_SIZE = 8

# What a config may name as a step code and as a state key.
STEP_CODE = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")  # Step.code is a SlugField(max_length=64)
STATE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


# --- Texts and buttons -------------------------------------------------------------------


def cut(text: str, limit: int) -> str:
    """Fit `text` into a WhatsApp field of `limit` characters, marking the cut with "…".

    Catalog names and business texts are not ours to refuse at send time: WhatsApp would
    reject the whole message (chatbots.wire checks the same limits when it is built).
    """
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def text(body: str) -> wa.Text:
    """A plain text message, cut to the 4096 characters WhatsApp allows (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/messages/interactive-list-messages)."""
    return wa.Text(body=cut(body, wa.TEXT_MAX))


def buttons(body: str, options: Sequence[tuple[str, Any]]) -> wa.Buttons:
    """Reply buttons (id, title) under `body`, cut to the 1024 characters of an interactive body."""
    return wa.Buttons(
        body=cut(body, wa.INTERACTIVE_BODY_MAX),
        buttons=[wa.Button(id=i, title=str(t)) for i, t in options],
    )


def match_button(
    ctx: Context, options: Sequence[tuple[str, str]], aliases: dict[str, str]
) -> str | None:
    """The id of the button the customer chose: tapped, typed as an alias ("sim", "nao",
    normalize()d), or typed as (part of) its title or its number. None: no single one."""
    if ctx.reply_id in dict(options):
        return ctx.reply_id
    typed = normalize(ctx.text)
    if typed in aliases:
        return aliases[typed]
    found = match_option(ctx.text, options, id_of=lambda o: o[0], title_of=lambda o: o[1])
    return found[0] if found else None


# --- Config ------------------------------------------------------------------------------


def only_keys(
    config: Any, allowed: tuple[str, ...], *, texts: tuple[str, ...] | None = None
) -> None:
    """Refuse a config with a key outside `allowed`, or a non-text value for one of `texts`
    (default: every allowed key), naming the first problem and the fix (pt-BR)."""
    if not isinstance(config, dict):
        raise ValidationError(_("A configuração deve ser um objeto JSON, por exemplo {}."))
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise ValidationError(
            _("Chave desconhecida “%(key)s”. As chaves aceitas são: %(allowed)s.")
            % {"key": unknown[0], "allowed": ", ".join(allowed) or "—"}
        )
    for key in allowed if texts is None else texts:
        if key in config and not isinstance(config[key], str):
            raise ValidationError(_("“%(key)s” deve ser um texto entre aspas.") % {"key": key})


class ConfigErrors:
    """Collects every problem of a config, so the user fixes them in one go (the configured
    handlers of chatbots.handlers.generic; their texts are typed by staff, so a text over
    WhatsApp's limit is refused here, never cut)."""

    def __init__(self, config: Any):
        self.config = config if isinstance(config, dict) else {}
        self.messages: list[str] = []
        if not isinstance(config, dict):
            self.add(_("A configuração deve ser um objeto JSON, por exemplo {}."))

    def add(self, message: str) -> None:
        self.messages.append(message)

    def raise_if_any(self) -> None:
        if self.messages:
            raise ValidationError(self.messages)

    def only_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.config:
            if key not in allowed:
                self.add(
                    _("Chave desconhecida “%(key)s”. As chaves aceitas são: %(allowed)s.")
                    % {"key": key, "allowed": ", ".join(allowed)}
                )

    def text(
        self, key: str, *, limit: int, required: bool = True, where: str = "", value: Any = None
    ) -> str:
        """Check a text value (from the config unless `value` is given); return it or ""."""
        name = where or key
        if value is None:
            value = self.config.get(key)
        if value is None or value == "":
            if required:
                self.add(
                    _('Falta “%(key)s”: informe o texto, por exemplo "%(key)s": "...".')
                    % {"key": name}
                )
            return ""
        if not isinstance(value, str):
            self.add(_("“%(key)s” deve ser um texto entre aspas.") % {"key": name})
            return ""
        if required and not value.strip():
            self.add(_("“%(key)s” não pode ficar em branco.") % {"key": name})
            return ""
        if len(value) > limit:
            self.add(
                _(
                    "“%(key)s” tem %(length)s caracteres; o WhatsApp aceita no máximo %(limit)s. "
                    "Encurte o texto."
                )
                % {"key": name, "length": len(value), "limit": limit}
            )
        return value

    def step_code(self, key: str, *, required: bool, where: str = "", value: Any = None) -> str:
        name = where or key
        if value is None:
            value = self.config.get(key)
        if value is None or value == "":
            if required:
                self.add(_("Falta “%(key)s”: informe o código da próxima etapa.") % {"key": name})
            return ""
        if not isinstance(value, str) or not STEP_CODE.match(value):
            self.add(
                _(
                    "“%(key)s” deve ser o código de uma etapa (letras, números, - e _, até 64 "
                    "caracteres), não %(value)s."
                )
                % {"key": name, "value": repr(value)}
            )
            return ""
        return value

    def state_key(self, key: str, *, required: bool) -> str:
        value = self.config.get(key)
        if value is None or value == "":
            if required:
                self.add(
                    _(
                        "Falta “%(key)s”: informe o nome em que a resposta fica guardada, "
                        'por exemplo "%(key)s": "email".'
                    )
                    % {"key": key}
                )
            return ""
        if not isinstance(value, str) or not STATE_KEY.match(value):
            self.add(
                _(
                    "“%(key)s” deve ser um nome simples (letras sem acento, números e _, "
                    "começando por letra), não %(value)s."
                )
                % {"key": key, "value": repr(value)}
            )
            return ""
        return value


class FlowHandler(Handler):
    """Base of the coded flows' steps: what varies between them is declared, not rewritten.

    KEYS are the config keys the step takes (all texts); NEXT_STEPS the step codes it may
    move to (checked by registry.validate_flow); OPTIONS its reply buttons as (id, lazy
    title) and ALIASES the typed words that mean one of them (normalize()d).
    """

    KEYS: ClassVar[tuple[str, ...]] = ()
    NEXT_STEPS: ClassVar[tuple[str, ...]] = ()
    OPTIONS: ClassVar[list[tuple[str, Any]]] = []
    ALIASES: ClassVar[dict[str, str]] = {}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        only_keys(config, cls.KEYS)

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        return list(cls.NEXT_STEPS)

    def options(self) -> list[tuple[str, str]]:
        """OPTIONS with their titles in the active language (resolved per message)."""
        return [(i, str(t)) for i, t in self.OPTIONS]

    def ask(self, body: str) -> wa.Buttons:
        """`body` with OPTIONS as reply buttons."""
        return buttons(body, self.options())

    def pressed(self, ctx: Context) -> str | None:
        """The OPTIONS id the customer chose (see match_button), or None."""
        return match_button(ctx, self.options(), self.ALIASES)


# --- Paged lists -------------------------------------------------------------------------


@dataclass
class Page(Generic[T]):
    """One page of a catalog: the rows shown, its 0-based number, whether more follow."""

    items: list[T]
    number: int
    has_more: bool

    def numbered(self, typed: str) -> T | None:
        """The item a typed number means, counting the items of the page shown. A number
        answering the list as the bot's last message arrives as that row's tap already
        (chatbots.numbered, "Ver mais" and "Voltar" counted); this is for a number typed
        after something else was said."""
        if typed.isdigit() and 1 <= int(typed) <= len(self.items):
            return self.items[int(typed) - 1]
        return None


def page_of(items: Sequence[T], number: Any) -> Page[T]:
    """Page `number` (from the conversation state: anything not a number is page 0; past
    the end is the last page, as the catalog may have shrunk since it was shown)."""
    try:
        number = int(number or 0)
    except (TypeError, ValueError):
        number = 0
    total = max(1, -(-len(items) // PAGE_SIZE))
    number = min(max(number, 0), total - 1)
    return Page(
        items=list(items[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]),
        number=number,
        has_more=number < total - 1,
    )


def list_message(
    *, body: str, button: str, prefix: str, rows: list[wa.Row], more: bool, back: bool
) -> wa.ListMessage:
    """A one-section list of `rows`, plus "Ver mais" (`more`) and "Voltar" (`back`) rows
    with ids "<prefix>:mais" and "<prefix>:voltar". `body` goes as given: callers whose
    body may be long cut it (cut(body, wa.INTERACTIVE_BODY_MAX))."""
    extra = []
    if more:
        extra.append(
            wa.Row(id=f"{prefix}:{MORE}", title=_("Ver mais"), description=_("Próxima página"))
        )
    if back:
        extra.append(wa.Row(id=f"{prefix}:{BACK}", title=_("Voltar")))
    return wa.ListMessage(
        body=body, button=button, sections=[wa.Section(title=_("Opções"), rows=rows + extra)]
    )


def navigation(
    ctx: Context,
    prefix: str,
    *,
    more_words: tuple[str, ...] = MORE_WORDS,
    read_tap_titles: bool = False,
) -> str | None:
    """MORE or BACK when the customer tapped this list's "Ver mais"/"Voltar" row or typed
    one of `more_words`/BACK_WORDS; else None.

    A tap's text is the title of what was tapped, so typed words count only when nothing
    was tapped; with `read_tap_titles` the title of a tap on another message (an older
    list's "Ver mais") counts too. A tap on one of this list's items is never navigation.
    """
    if ctx.reply_id in (f"{prefix}:{MORE}", f"{prefix}:{BACK}"):
        return ctx.reply_id.split(":", 1)[1]
    if ctx.reply_id.startswith(f"{prefix}:") or (ctx.reply_id and not read_tap_titles):
        return None
    typed = normalize(ctx.text)
    if typed in more_words:
        return MORE
    if typed in BACK_WORDS:
        return BACK
    return None


def pick(
    ctx: Context, items: Sequence[T], page: Page[T], *, prefix: str, title_of: Callable[[T], str]
) -> T | None:
    """The item tapped ("<prefix>:<pk>"), the number typed (on the page shown) or the name
    typed (searched in the whole catalog, see chatbots.text.match_option)."""
    if ctx.reply_id.startswith(f"{prefix}:"):
        pk = ctx.reply_id.split(":", 1)[1]
        return next((i for i in items if str(i.pk) == pk), None)
    typed = normalize(ctx.text)
    if typed.isdigit():
        return page.numbered(typed)
    return match_option(ctx.text, items, id_of=lambda i: f"{prefix}:{i.pk}", title_of=title_of)
