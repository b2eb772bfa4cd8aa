"""The one place phone numbers are normalized.

Canonical form: digits only, with country code, no "+". Brazilian mobile numbers are
stored with the ninth digit: since 2016 every Brazilian mobile has 9 digits after the
area code, but WhatsApp ids (wa_id) of older accounts still come without it
(55 11 8765-4321 instead of 55 11 98765-4321). Both spellings must be the same customer.
"""

from __future__ import annotations

import re

BRAZIL = "55"
_NON_DIGITS = re.compile(r"\D+")
# Brazil's area codes (DDD): https://en.wikipedia.org/wiki/Telephone_numbers_in_Brazil
_DDDS = frozenset(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99".split()
)


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, *, default_country: str = BRAZIL) -> str:
    """Return the canonical digits of a phone number, or raise InvalidPhone.

    Accepts "+55 (11) 98765-4321", "5511987654321", "11 98765-4321" (local numbers get the
    default country code) and WhatsApp JIDs ("5511987654321@s.whatsapp.net").
    """
    if raw is None:
        raise InvalidPhone("empty phone number")
    text = str(raw).split("@", 1)[0].split(":", 1)[0].strip()
    if text.startswith("00"):
        text = text[2:]
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        raise InvalidPhone(f"no digits in phone number {raw!r}")
    had_plus = text.startswith("+")
    if not had_plus and default_country == BRAZIL and _brazil_local(digits):
        digits = BRAZIL + digits  # DDD + number, without country code
    if digits.startswith(BRAZIL) and len(digits) in (12, 13):
        digits = _brazil_ninth_digit(digits)
    if not 8 <= len(digits) <= 15:  # E.164 allows at most 15 digits
        raise InvalidPhone(f"phone number {raw!r} has {len(digits)} digits")
    return digits


def _brazil_local(digits: str) -> bool:
    """A Brazilian number without its country code: DDD + 8 digits (a landline, or a mobile
    of before the ninth digit), or DDD + 9 + 8 digits. Anything else of that length already
    carries a country code: WhatsApp ids always do (16505551234 is a US number)."""
    if len(digits) not in (10, 11) or digits[:2] not in _DDDS:
        return False
    return len(digits) == 10 or digits[2] == "9"


def _brazil_ninth_digit(digits: str) -> str:
    ddd, local = digits[2:4], digits[4:]
    if len(local) == 8 and local[0] in "6789":
        # An 8-digit number starting 6-9 is a mobile written without its ninth digit.
        return f"{BRAZIL}{ddd}9{local}"
    return digits


def phone_variants(raw: str) -> list[str]:
    """Every spelling a stored number may be matched by (canonical first)."""
    canonical = normalize_phone(raw)
    variants = [canonical]
    if canonical.startswith(BRAZIL) and len(canonical) == 13 and canonical[4] == "9":
        variants.append(canonical[:4] + canonical[5:])
    return variants


def mask_phone(digits: str) -> str:
    """For logs and screens that must not show a full number: keep the last four."""
    if not digits:
        return ""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]
