r"""What every webhook (Meta, Evolution, Whaticket, Cal.com, payments) does the same way.

* `read_body`: the raw body (signatures cover these exact bytes) under a size cap, with a
  `Content-Length` that must be a non-negative integer (RFC 9110, section 8.6: "1*DIGIT").
  Django itself turns a non-numeric one into a 500 when `request.body` is read.
* `unauthorized`: the ONE answer to a request that is not authenticated, whatever the
  reason: an unknown bot id, phone_number_id or tenant slug, a bot or tenant without a
  secret, a missing, stale or wrong signature. Different answers (404 for what does not
  exist, 401 for what does) let anyone list the bots and tenants before any signature is
  checked. The reason stays on the server: callers log it and count it in their metrics.
* `load_json`: the body as JSON that PostgreSQL can store and our code can walk, or
  JsonRefused (a 400). Python's decoder accepts what PostgreSQL's jsonb and text columns
  refuse and what recursive code cannot walk, each a server error once stored: `NaN`,
  `Infinity` and numbers beyond a double (`1e999`) are refused (RFC 8259, section 6, allows
  neither); `\u0000` and lone surrogates (`\ud800`) in a string or a key become U+FFFD
  (PostgreSQL: https://www.postgresql.org/docs/current/datatype-json.html, "\u0000 is
  disallowed"; a lone surrogate cannot be encoded as UTF-8); nesting deeper than
  JSON_MAX_DEPTH is refused (no provider nests a tenth as deep).

Body checks come before anything is looked up, so they answer the same for every URL.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

UNAUTHORIZED = "unauthorized"

# Deepest nesting of arrays and objects a webhook body may have. Meta's deepest (a Flow's
# answers inside entry[].changes[].value.messages[].interactive.nfm_reply) is about 12.
JSON_MAX_DEPTH = 64
# What PostgreSQL cannot store in a string: NUL, and a surrogate left alone by a \u escape
# (a valid pair was already joined by the decoder).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Only a \u escape can put either into a string decoded from bytes (raw control characters
# are refused by the decoder, encoded surrogates by strict UTF-8), so a body without one
# needs no cleaning.
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class JsonRefused(ValueError):
    """The body is not JSON we accept; the text says why (never the body)."""


class BodyRefused(Exception):
    """The body cannot be read: 400 (bad Content-Length) or 413 (over the limit)."""

    def __init__(self, status: int, reason: str, detail: str):
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def declared_length(request: HttpRequest) -> int:
    """The request's Content-Length (0 when absent); BodyRefused(400) unless it is digits."""
    raw = (request.META.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise BodyRefused(400, "bad_content_length", "Content-Length must be a whole number")
    return int(raw)


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """The raw body; BodyRefused for a bad Content-Length (400) or over `limit` bytes (413),
    by Content-Length before reading a byte and by the bytes actually read."""
    declared = declared_length(request)
    body = b""
    if declared <= limit:  # otherwise refused before reading a byte
        try:
            body = request.body
        except RequestDataTooBig:  # Django's own cap, DATA_UPLOAD_MAX_MEMORY_SIZE
            declared = limit + 1
    if declared > limit or len(body) > limit:
        raise BodyRefused(413, "too_large", f"body over {limit} bytes")
    return body


def load_json(body: bytes | str, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """The JSON value of `body` (see the module docstring), or JsonRefused."""
    try:
        # UTF-8, strictly (RFC 8259, section 8.1): json.loads would take UTF-16 and 32, and
        # encoded surrogates, from bytes.
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    # RecursionError: a deeply nested body (`[[[[...]]]]`) exhausts the decoder's stack.
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, JsonRefused):
            raise
        raise JsonRefused(f"body is not JSON: {type(exc).__name__}") from None
    # A str may hold the characters themselves (a JSON string inside a decoded body).
    clean = isinstance(body, str) or bool(_UNSTORABLE_ESCAPE.search(body))
    return _checked(value, max_depth=max_depth, clean=clean)


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"body is not JSON: {name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JsonRefused("body is not JSON: a number is out of range")
    return number


def _clean(text: str) -> str:
    return _UNSTORABLE.sub("\ufffd", text)


def _checked(value: Any, *, max_depth: int, clean: bool) -> Any:
    """`value` with unstorable characters replaced (when `clean`), its depth checked.

    Iterative, not recursive: the point is to walk what recursion cannot."""
    if not isinstance(value, dict | list):
        return _clean(value) if clean and isinstance(value, str) else value
    root: list = [value]
    stack: list[tuple[dict | list, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise JsonRefused(f"body is nested deeper than {max_depth} levels")
        if isinstance(container, dict):
            items = list(container.items())
            if clean:
                container.clear()
            for key, item in items:
                if clean:
                    if isinstance(item, str):
                        item = _clean(item)
                    container[_clean(key)] = item
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        else:
            for index, item in enumerate(container):
                if isinstance(item, str):
                    if clean:
                        container[index] = _clean(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return root[0]


def body_refused(refusal: BodyRefused) -> JsonResponse:
    return JsonResponse({"error": refusal.reason, "detail": refusal.detail}, status=refusal.status)


def unauthorized() -> JsonResponse:
    """The same 401 for every unauthenticated webhook request (see the module docstring)."""
    return JsonResponse(
        {
            "error": UNAUTHORIZED,
            "detail": _(
                "Requisição não autenticada. Confira o endereço do webhook e o segredo ou a "
                "assinatura configurados para ele."
            ),
        },
        status=401,
    )
