"""Matching what a customer types against what the bot offered.

Customers answer menus by tapping (we get the button/row id back), by typing the number we
showed ("2", "2.", "opção 2", "2️⃣") or by typing (part of) the name, with or without accents
and capitals ("pizza", "Pizzas", "calabresa"). Every handler that offers choices (the generic
menu, the order flow's categories and products) matches the same way, here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from config.text import normalize

T = TypeVar("T")

_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[^\w\s]")
# What customers put around the number of an option: "opção 2", "nº 2", "item 2", "#2", "2)".
# Matched on the key form (accents and punctuation gone, so "nº" is "no" and "2)" is "2").
_NUMBER = re.compile(r"^(?:(?:opcao|opc|op|option|numero|num|no|n|item)\s*)?(\d{1,3})$")
# Typed text shorter than this only matches as the start of a title, never in its middle.
_MIN_SUBSTRING = 3


def _key(text: str) -> str:
    """normalize() without punctuation: "X-Búrguer!" -> "x burguer"."""
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", normalize(text))).strip()


def _singular(key: str) -> str:
    """A rough pt-BR singular so "pizzas" finds "Pizza" and "bebida" finds "Bebidas"."""
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in key.split())


def _default_id(option: Any) -> str:
    if isinstance(option, dict):
        value = option.get("id", "")
    elif isinstance(option, str):
        value = ""
    else:
        value = getattr(option, "id", "")
    return "" if value is None else str(value)


def _default_title(option: Any) -> str:
    if isinstance(option, dict):
        return str(option.get("title") or option.get("nome") or "")
    if isinstance(option, str):
        return option
    return str(getattr(option, "title", None) or getattr(option, "nome", None) or option)


def _unique(candidates: list[T]) -> T | None:
    return candidates[0] if len(candidates) == 1 else None


def match_option(
    text_or_reply_id: str,
    options: Sequence[T],
    *,
    reply_id: str = "",
    id_of: Callable[[T], str] | None = None,
    title_of: Callable[[T], str] | None = None,
) -> T | None:
    """Return the option the customer chose, or None when the answer matches none or several.

    Tried in order, first hit wins:

    1. `reply_id` equal to an option's id (a tapped button or list row);
    2. a typed number, 1-based in the order of `options` ("1", "1.", "opção 1", "1️⃣");
    3. the text equal to an option's id (providers that deliver a tap as its id);
    4. the title, accents/case/punctuation ignored, singular or plural ("pizzas" = "Pizza");
    5. the only title that starts with the text ("calab" -> "Calabresa");
    6. the only title that contains the text (3+ characters: "bresa" -> "Calabresa");
    7. the only title that appears as whole words in the text ("quero a pizza" -> "Pizza").

    Options are dicts with "id"/"title" (or "nome"), objects with those attributes, or plain
    strings; pass `id_of`/`title_of` for anything else (e.g. model rows whose reply ids are
    "produto:<pk>").
    """
    if not options:
        return None
    get_id = id_of or _default_id
    get_title = title_of or _default_title

    if reply_id:
        hit = _unique([o for o in options if get_id(o) == reply_id])
        if hit is not None:
            return hit

    text = (text_or_reply_id or "").strip()
    key = _key(text)
    if not key:
        return None

    number = _NUMBER.match(key)
    if number:
        index = int(number.group(1))
        if 1 <= index <= len(options):
            return options[index - 1]

    hit = _unique([o for o in options if get_id(o) and get_id(o) == text])
    if hit is not None:
        return hit

    keyed = [(o, _key(get_title(o))) for o in options]
    singular = _singular(key)
    tiers = (
        lambda title: title == key,
        lambda title: _singular(title) == singular,
        lambda title: title.startswith(key),
        lambda title: len(key) >= _MIN_SUBSTRING and key in title,
        lambda title: bool(title) and f" {_singular(title)} " in f" {singular} ",
    )
    for matches in tiers:
        candidates = [o for o, title in keyed if title and matches(title)]
        if candidates:
            # Several options fit at the first tier that fits any: ambiguous, ask again.
            return _unique(candidates)
    return None
