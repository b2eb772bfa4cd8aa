"""What every webhook (Meta, Evolution, Whaticket, Cal.com, payments) does the same way.

* `read_body`: the raw body (signatures cover these exact bytes) under a size cap, with a
  `Content-Length` that must be a non-negative integer (RFC 9110, section 8.6: "1*DIGIT").
  Django itself turns a non-numeric one into a 500 when `request.body` is read.
* `unauthorized`: the ONE answer to a request that is not authenticated, whatever the
  reason: an unknown bot id, phone_number_id or tenant slug, a bot or tenant without a
  secret, a missing, stale or wrong signature. Different answers (404 for what does not
  exist, 401 for what does) let anyone list the bots and tenants before any signature is
  checked. The reason stays on the server: callers log it and count it in their metrics.

Body checks come before anything is looked up, so they answer the same for every URL.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

UNAUTHORIZED = "unauthorized"


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
