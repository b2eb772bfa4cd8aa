"""The ways one customer text can be read, so that a rule written for plain words also
sees them accented, in leetspeak, spaced out, behind look-alike letters or encoded.

Every rule of chatbots.ai.guard.rules runs on each view (`views`): the text folded (lower
case, no accents, homoglyphs mapped, spaces collapsed), the same in leetspeak, with letters
spaced out or dotted apart joined again, reversed, ROT13, and whatever base64, hex or
percent-encoded segments hide (decoded, one level deep inside each other).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from urllib.parse import unquote

# Letters that look Latin but are not (Cyrillic, Greek, Armenian): "іgnоrе" must read
# "ignore". NFKC already maps the full-width and mathematical letters.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "к": "k", "м": "m", "т": "t", "н": "h", "в": "b", "г": "r",
        "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u", "ԛ": "q", "ԝ": "w",
        "α": "a", "ε": "e", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "ι": "i", "κ": "k",
        "ν": "v", "χ": "x", "η": "n",
    }
)  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "i", "+": "t"})  # fmt: skip


def clean(text: str) -> str:
    """NFKC, control and invisible characters removed (newlines and tabs kept)."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    kept = []
    for ch in text:
        if ch in "\n\t":
            kept.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn"):
            continue  # controls, zero-width and bidi marks, private use
        else:
            kept.append(ch)
    return "".join(kept).strip()


def fold_keep_spaces(text: str) -> str:
    """casefold, no accents, homoglyphs mapped."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_CONFUSABLES))
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))


def fold(text: str) -> str:
    """fold_keep_spaces, spaces collapsed (newlines kept)."""
    return re.sub(r"[ \t\u00a0]+", " ", fold_keep_spaces(text))


_SPACED = re.compile(r"^(?:\w[ .\-_*/]){3,}\w$")
# One letter at a time with a separator between: "e.s.q.u.e.c.a", "r-e-g-r-a-s", "a-s".
# Words like "e-mail" (more than one letter between separators) are left alone.
_DOTTED = re.compile(r"(?<![\w.\-_*/·])(?:\w[.\-_*/·]){1,}\w(?![\w.\-_*/·])")

_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){10,}")
_PCT = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}")


def _printable(raw: bytes) -> str:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    letters = sum(ch.isalpha() or ch.isspace() for ch in decoded)
    return decoded if decoded and letters / len(decoded) > 0.7 else ""


def decoded(text: str, *, depth: int = 2) -> list[str]:
    """Hidden texts: base64, hex and percent-encoded segments decoded (and what those hide)."""
    found = []
    for segment in _B64.findall(text):
        padded = segment + "=" * (-len(segment) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                plain = _printable(decode(padded))
            except (binascii.Error, ValueError):
                continue
            if plain:
                found.append(plain)
                break
    for segment in _HEX.findall(text):
        try:
            plain = _printable(bytes.fromhex(re.sub(r"[\s:]", "", segment)))
        except ValueError:
            continue
        if plain:
            found.append(plain)
    for segment in _PCT.findall(text):
        found.append(unquote(segment))
    if depth > 1:
        found += [inner for hidden in list(found) for inner in decoded(hidden, depth=depth - 1)]
    return found


def _joined(text: str) -> str:
    """Letters spaced out ("i g n o r e   a l l", words apart by wider gaps) or dotted
    apart ("e.s.q.u.e.c.a") joined into words again."""
    chunks = re.split(r"\s{2,}", fold_keep_spaces(text))
    joined = " ".join(
        re.sub(r"[ .\-_*/]", "", c) if _SPACED.match(c.strip()) else c for c in chunks
    )
    return _DOTTED.sub(lambda m: re.sub(r"[.\-_*/·]", "", m.group()), joined)


def views(text: str) -> list[str]:
    """The readings of `text` every rule is tried on (each folded); the first two are the
    plain text and its leetspeak reading."""
    base = fold(text)
    joined = _joined(text)
    found = [base, base.translate(_LEET), joined, joined.translate(_LEET), base[::-1]]
    # ROT13 is tried on every text: an attacker does not have to say it is ROT13, and
    # ordinary Portuguese rotated by 13 letters reads as no phrase any rule knows.
    found.append(codecs.decode(base, "rot13"))
    for hidden in decoded(text):
        folded = fold(hidden)
        found += [folded, folded.translate(_LEET)]
    return found
