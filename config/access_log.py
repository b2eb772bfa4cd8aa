"""The web's access log lines, written by a WSGI middleware around the Django app.

gunicorn's sync workers wrote them (gunicorn.conf.py's logger); uvicorn's worker, which
serves the ASGI app (config/asgi.py), has its own access log that prints the query string
(Meta's `hub.verify_token`, Evolution's `?secret=`) and knows nothing of the request id, so
it is off (config/server.py) and this writes the same line instead: JSON (LOG_FORMAT=json)
or the plain format, on gunicorn's `gunicorn.access` logger (stdout under gunicorn).
Phone numbers in paths are masked by the same function as every other log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from datetime import UTC, datetime

from config.logging import mask

logger = logging.getLogger("gunicorn.access")


def access_doc(environ, status: str, headers, sent: int | None, seconds: float) -> dict:
    code = str(status).split(None, 1)[0]
    lowered = {k.lower(): v for k, v in (headers or [])}
    doc = {
        "time": datetime.now(UTC).isoformat(),
        "level": "INFO",
        "logger": "gunicorn.access",
        "message": mask(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} {code}"),
        "method": environ.get("REQUEST_METHOD"),
        "path": mask(environ.get("PATH_INFO", "")),
        "status": int(code) if code.isdigit() else code,
        "bytes": sent,
        "duration_ms": round(seconds * 1000, 1),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "user_agent": environ.get("HTTP_USER_AGENT", "")[:200],
    }
    if lowered.get("x-request-id"):
        doc["request_id"] = lowered["x-request-id"]
    # The client behind our proxies, by the rule of every other reader (NUM_PROXIES).
    # Left out when the app (and so its settings) did not load.
    with contextlib.suppress(Exception):
        from config.client_ip import client_ip_from_meta

        doc["client_ip"] = client_ip_from_meta(environ)
    return doc


def _plain(doc: dict) -> str:
    return (
        f'{doc["remote_addr"]} "{doc["method"]} {doc["path"]}" {doc["status"]} '
        f"{doc['bytes']} {round(doc['duration_ms'])}ms rid={doc.get('request_id', '-')}"
    )


class AccessLogMiddleware:
    def __init__(self, app, *, json_lines: bool | None = None):
        self.app = app
        if json_lines is None:
            json_lines = os.environ.get("LOG_FORMAT", "json") == "json"
        self.json_lines = json_lines

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen: dict = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        return _LoggedBody(body, lambda sent: self._log(environ, seen, sent, started))

    def _log(self, environ, seen: dict, sent: int, started: float) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        try:
            doc = access_doc(
                environ,
                seen.get("status", "500"),
                seen.get("headers"),
                sent,
                time.monotonic() - started,
            )
            logger.info(json.dumps(doc, ensure_ascii=False) if self.json_lines else _plain(doc))
        except Exception:  # a log line must never break a response
            logger.exception("access log failed")


class _LoggedBody:
    """The response iterable, counting bytes and logging once the server closes it."""

    def __init__(self, body, done):
        self._body = body
        self._done = done
        self._sent = 0
        # Whether the body comes in pieces over time: config/wsgi_bridge.py sends one that
        # does not as a whole, with one crossing of threads.
        self.streaming = getattr(body, "streaming", True)

    def __iter__(self):
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)
