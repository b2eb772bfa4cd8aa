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
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# 10 to 15 digits, optionally with a leading +: Brazilian numbers with country code are 12-13.
PHONE_RE = re.compile(r"(?<!\d)\+?\d{6,11}(\d{4})(?!\d)")
SECRET_RE = re.compile(
    r"(?i)(access_token|app_secret|api[_-]?key|authorization|password|secret|token)"
    r"([\"']?\s*[:=]\s*[\"']?)(Bearer\s+|Api-Key\s+)?[^\s\"',&}]+"
)
DROP_KEYS = {"text", "body", "message_text", "password", "token", "secret", "access_token"}
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def mask(text: str) -> str:
    text = PHONE_RE.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(1), text)
    return SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _extras(record: logging.LogRecord) -> dict:
    out = {}
    for key, value in vars(record).items():
        if key in _STANDARD or key.startswith("_") or key == "request_id":
            continue
        if key.lower() in DROP_KEYS:
            continue
        out[key] = mask(value) if isinstance(value, str) else value
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
