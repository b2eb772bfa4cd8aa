"""Matching what a customer types against what the bot offered.

Customers answer menus by tapping (we get the button/row id back), by typing the number we
showed ("2", "2.", "opção 2", "2️⃣") or by typing (part of) the name, with or without accents
and capitals ("pizza", "Pizzas", "calabresa"). Every handler that offers choices (the generic
menu, the order flow's categories and products) matches the same way, here. A catalog
searched by name (the order flow) also forgives typos and knows other names for a product
(`fuzzy`, `names_of`): "coca" finds "Coca-Cola 2L", "calabreza" finds "Pizza Calabresa".
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
    names_of: Callable[[T], Sequence[str]] | None = None,
    fuzzy: bool = False,
) -> T | None:
    """Return the option the customer chose, or None when the answer matches none or several.

    Tried in order, first hit wins:

    1. `reply_id` equal to an option's id (a tapped button or list row);
    2. a typed number, 1-based in the order of `options` ("1", "1.", "opção 1", "1️⃣");
    3. the text equal to an option's id (providers that deliver a tap as its id);
    4. the names, by `match_candidates` (accents, case, plurals; typos when `fuzzy`).

    Options are dicts with "id"/"title" (or "nome"), objects with those attributes, or plain
    strings; pass `id_of`/`title_of` for anything else (e.g. model rows whose reply ids are
    "produto:<pk>"), and `names_of` for the other names an option answers to.
    """
    if not options:
        return None
    get_id = id_of or _default_id

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
    return _unique(
        match_candidates(text, options, title_of=title_of, names_of=names_of, fuzzy=fuzzy)
    )


# Words around what a customer asks for ("quero uma coca, por favor"): never a name's part.
_FILLER = frozenset(
    "quero queria gostaria poderia pode me ve manda mande traz traga tem voces vcs eu "
    "um uma uns umas o a os as de do da dos das com por favor pf pfv pra para e mais ai "
    "aquela aquele esse essa isso ok tambem tb tbm agora so ainda la aqui hoje".split()
)


def _words(key: str) -> list[str]:
    """The words that name something: no fillers, no bare numbers (quantities)."""
    return [w for w in _singular(key).split() if w not in _FILLER and not w.isdigit()]


def _allowed_typos(word: str) -> int:
    # One slip in a short word, two in a long one; none below 4 letters, where one edit
    # turns most words into others ("sal" / "mal").
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str, *, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance of `a` and `b`, capped at
    `limit + 1`; words whose lengths differ by more than `limit` are not compared."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


def _close(word: str, candidates: Sequence[str]) -> bool:
    limit = _allowed_typos(word)
    return any(
        edit_distance(word, c, limit=limit) <= limit for c in candidates if _allowed_typos(c)
    )


def match_candidates(
    text: str,
    options: Sequence[T],
    *,
    title_of: Callable[[T], str] | None = None,
    names_of: Callable[[T], Sequence[str]] | None = None,
    fuzzy: bool = False,
) -> list[T]:
    """The options whose names fit the typed `text`, all of the first tier that fits any
    (one: the answer; several: ambiguous, offer them; none: not understood). The tiers are
    `match_ranked`'s."""
    return match_ranked(text, options, title_of=title_of, names_of=names_of, fuzzy=fuzzy)[1]


# match_ranked's tiers that mean the whole text is the option's name (in the singular).
EXACT_TIERS = (1, 2)


def match_ranked(
    text: str,
    options: Sequence[T],
    *,
    title_of: Callable[[T], str] | None = None,
    names_of: Callable[[T], Sequence[str]] | None = None,
    fuzzy: bool = False,
) -> tuple[int, list[T]]:
    """(tier, options) of the first tier below that fits any option; (0, []) for none.

    A name is the title, plus what `names_of` gives (a product's synonyms). Compared with
    accents, case and punctuation ignored, tiers in order:

    1. equal to the text; 2. equal in the singular ("pizzas" = "Pizza");
    3. starting with the text, spaces ignored too ("calab" -> "Calabresa", "cocacola" ->
       "Coca-Cola 2L"); 4. containing it (3+ characters: "bresa" -> "Calabresa");
    5. appearing as whole words in the text ("quero a pizza" -> "Pizza");

    and with `fuzzy`:

    6. every word of the text that names something (not "quero", "uma", a number) is a
       word of the name or the start of one ("quero uma coca" -> "Coca-Cola 2L");
    7. the same with typos: one wrong, missing, extra or swapped letter in words of 4 to
       7 letters, two from 8 ("calabreza" -> "Calabresa", "margerita" -> "Margherita").
    """
    get_title = title_of or _default_title
    key = _key(text)
    if not key or not options:
        return 0, []

    def names(option: T) -> list[str]:
        found = [get_title(option), *(names_of(option) if names_of else [])]
        return [k for k in (_key(n) for n in found) if k]

    keyed = [(o, names(o)) for o in options]
    singular = _singular(key)
    compact = key.replace(" ", "")
    words = _words(key)
    tiers = [
        lambda name: name == key,
        lambda name: _singular(name) == singular,
        lambda name: (
            name.startswith(key)
            or (len(compact) >= _MIN_SUBSTRING and name.replace(" ", "").startswith(compact))
        ),
        lambda name: len(key) >= _MIN_SUBSTRING and key in name,
        lambda name: f" {_singular(name)} " in f" {singular} ",
    ]
    if fuzzy and words:
        tiers += [
            lambda name: all(
                any(n == w or (len(w) >= _MIN_SUBSTRING and n.startswith(w)) for n in _words(name))
                for w in words
            ),
            lambda name: all(_close(w, _words(name)) for w in words),
        ]
    for tier, matches in enumerate(tiers, start=1):
        candidates = [o for o, option_names in keyed if any(matches(n) for n in option_names)]
        if candidates:
            return tier, candidates
    return 0, []
