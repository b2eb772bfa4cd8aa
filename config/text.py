"""Text as customers type it, compared the way people read it.

Used by the matching of menu answers (chatbots.text) and of consent keywords
(compliance.consent), so a keyword and an option are folded the same way.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Strip, casefold, drop accents and collapse whitespace: "  Pão  de AÇÚCAR " -> "pao de acucar".

    Accents go through NFKD decomposition then dropping combining marks, which also turns
    "nº" into "no" and the keycap emoji "1️⃣" into "1".
    """
    decomposed = unicodedata.normalize("NFKD", str(text or "").casefold())
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))
    return _SPACES.sub(" ", bare).strip()
