"""JSON log lines with a request id; phone numbers masked, message texts and secrets dropped.

Personal data never reaches a log line at INFO or above: digits that look like a phone
number are masked to their last four, and `extra` keys that carry message text or secrets
are dropped. This one formatter is used by every process (web, worker, beat).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# 10 to 15 digits, optionally with a leading +: Brazilian numbers with country code are 12-13.
PHONE_RE = re.compile(r"(?<!\d)\+?\d{6,11}(\d{4})(?!\d)")
# The same numbers as people type them: "+55 (11) 98765-4321", "11 8765-4321".
TYPED_PHONE_RE = re.compile(
    r"(?<![\d+])(?:\+?55[\s.-]?)?\(?\d{2}\)?[\s.-]?9?\d{4}[\s.-]?\d{4}(?!\d)"
)
SECRET_RE = re.compile(
    r"(?i)(access_token|app_secret|api[_-]?key|authorization|password|secret|token)"
    r"([\"']?\s*[:=]\s*[\"']?)(Bearer\s+|Api-Key\s+)?[^\s\"',&}]+"
)
DROP_KEYS = {"text", "body", "message_text", "password", "token", "secret", "access_token"}
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def _mask_typed(match: re.Match) -> str:
    text = match.group(0)
    cut = [i for i, ch in enumerate(text) if ch.isdigit()][-4]  # keep the last four digits
    return re.sub(r"\d", "*", text[:cut]) + text[cut:]


# Secrets this process has handled (decrypted from or written to an encrypted field, see
# config.fields): masked wherever they show up in a log line, even with no "token="
# before them (an exception message, a URL, a value under an innocent-looking key).
_known_secrets: tuple[str, ...] = ()
_known_lock = threading.Lock()
MAX_KNOWN_SECRETS = 512
MIN_SECRET_CHARS = 8  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    global _known_secrets
    if not value or len(value) < MIN_SECRET_CHARS or value in _known_secrets:
        return
    with _known_lock:
        if value not in _known_secrets:
            # Newest kept; longest first, so a secret containing another is masked whole.
            keep = (value, *_known_secrets)[:MAX_KNOWN_SECRETS]
            _known_secrets = tuple(sorted(keep, key=len, reverse=True))


def _mask_known_secrets(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask(text: str) -> str:
    text = _mask_known_secrets(text)
    text = PHONE_RE.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(1), text)
    text = TYPED_PHONE_RE.sub(_mask_typed, text)
    return SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx/5xx responses ("Not Found: ...") after the middleware chain has
        # returned, so the context variable is already reset; the request it passes along
        # still carries the id.
        record.request_id = request_id_var.get() or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        return True


def _clean(value):
    """Mask phone numbers and secrets anywhere in an `extra` value, dropping text keys."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if str(k).lower() not in DROP_KEYS}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    # Anything else (Django passes the request object) is logged as its str(), which can
    # hold a URL with a phone number in it.
    return mask(str(value))


def _extras(record: logging.LogRecord) -> dict:
    out = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_") or key == "request_id":
            continue
        if key.lower() in DROP_KEYS:
            continue
        out[key] = _clean(value)
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
        }
        rid = getattr(record, "request_id", "")
        if rid:
            doc["request_id"] = rid
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(doc, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", "")
        return mask(super().format(record))
