"""A small threaded HTTP server on 127.0.0.1 that fakes a provider's API in tests.

Subclasses implement `answer(record)` -> (status, body): a dict/list is sent as JSON, str
or bytes as they are, None as an empty body. Every request is recorded (`requests`) in
arrival order, with its method, path, query, headers (case-insensitive) and parsed JSON
body. `respond_next(status=..., body=..., times=...)` scripts raw answers for the next
requests (a 503 page, a 429, a slow answer with `delay`), before `answer` is consulted.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: CaseInsensitiveDict
    json: Any
    query: dict[str, str] = field(default_factory=dict)
    # multipart/form-data: the text fields are in `json` (a dict), the files here as
    # (field, filename, content type, bytes).
    files: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    status: int = 0
    response: Any = None
    raw: bytes = b""  # the body as sent (to check a signature over it)


@dataclass
class Scripted:
    status: int
    body: Any
    delay: float = 0.0


class FakeServer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Scripted] = deque()
        self._requests: list[RecordedRequest] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                fake._handle(self)

            do_GET = do_PUT = do_DELETE = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.on_reset()

    def on_reset(self) -> None:
        """Subclasses restore their state here (called with the lock held)."""

    # --- scripting and inspection -----------------------------------------------------
    def respond_next(
        self, *, status: int, body: Any = "", times: int = 1, delay: float = 0.0
    ) -> None:
        with self._lock:
            for _ in range(times):
                self._script.append(Scripted(status, body, delay))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def answer(self, record: RecordedRequest) -> tuple[int, Any]:
        raise NotImplementedError

    # --- the server side ---------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        files: list[tuple[str, str, str, bytes]] = []
        ctype = handler.headers.get("Content-Type") or ""
        if ctype.startswith("multipart/form-data"):
            body, files = _multipart(ctype, raw)
        else:
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", errors="replace")
        parts = urlsplit(handler.path)
        record = RecordedRequest(
            method=handler.command,
            path=parts.path,
            headers=CaseInsensitiveDict(handler.headers.items()),
            json=body,
            query=dict(parse_qsl(parts.query)),
            files=files,
            raw=raw,
        )
        with self._lock:
            self._requests.append(record)
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            status, answer = scripted.status, scripted.body
            time.sleep(scripted.delay)
        else:
            with self._lock:
                status, answer = self.answer(record)
        record.status, record.response = status, answer
        if answer is None:
            payload, ctype = b"", "text/plain"
        elif isinstance(answer, bytes | str):
            payload = answer if isinstance(answer, bytes) else answer.encode()
            ctype = "text/html"
        else:
            payload, ctype = json.dumps(answer).encode(), "application/json"
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass


def _multipart(content_type: str, raw: bytes) -> tuple[dict, list[tuple[str, str, str, bytes]]]:
    """A multipart/form-data body as (text fields, files), with the stdlib's MIME parser."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    fields: dict = {}
    files: list[tuple[str, str, str, bytes]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            files.append((name, filename, part.get_content_type(), payload))
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files
