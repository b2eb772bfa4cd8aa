"""A fake Meta Graph API (WhatsApp Cloud API sends) on 127.0.0.1, as a pytest fixture.

Loaded for every test by `pytest_plugins = ["tests.fakes.graph"]` in the root conftest.py.

    def test_it_retries(fake_graph, ...):          # settings.WHATSAPP_GRAPH_API_URL -> fake
        fake_graph.fail_next(code=130429, times=2)  # two "rate limit hit", then success
        ...
        assert [r.json["text"]["body"] for r in fake_graph.sends] == ["Oi", "Oi", "Oi"]

What it does, like Meta (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages):
* `POST /{version}/{phone_number_id}/messages` with `Authorization: Bearer <token>`:
  a send answers `{"messaging_product":"whatsapp","contacts":[{"input","wa_id"}],
  "messages":[{"id":"wamid.<unique>"}]}`; a read receipt (`status: "read"`) answers
  `{"success": true}`.
* `GET /{version}/{phone_number_id}` (a bot's "test connection") answers the number's
  record (`display_phone_number`, `verified_name`, `quality_rating`).
* Templates: `POST /{version}/{waba_id}/message_templates` creates one (`{id, status:
  PENDING, category}`), `GET` lists them two per page (`paging.cursors.after`, `next`),
  `DELETE ?name=&hsm_id=` deletes, `POST /{version}/{template id}` edits. `templates`
  holds them per WABA; `add_template` and `set_template_status` play Meta's side.
* Media: `add_media(id, bytes, mime)` makes `GET /{version}/{id}` answer Meta's record
  (`url`, `mime_type`, `sha256`, `file_size`); the URL (bearer token needed) serves the
  bytes until `expire_media(id)`, then 404. `POST /{version}/{phone_number_id}/media`
  (an upload) answers `{"id": ...}`, recorded in `uploads`.
* Media header samples (Resumable Upload API, Meta:
  https://developers.facebook.com/docs/graph-api/guides/upload): `POST
  /{version}/{app_id}/uploads?file_name=&file_length=&file_type=` opens a session
  (`{"id": "upload:<id>?sig=<sig>"}`; a type the API does not take: error 100), and `POST
  /{version}/upload:<id>?sig=<sig>` with `Authorization: OAuth <token>`, `file_offset: 0`
  and exactly `file_length` bytes answers `{"h": "4::<handle>"}`. `uploaded` lists what
  arrived (`file_name`, `file_type`, `content`, `handle`, `app_id`).
* No bearer token: 401 with error code 190. Another path: 400 with error code 100.
* Errors as Meta sends them: `{"error":{"message":"(#code) title","type":"OAuthException",
  "code":..,"error_data":{"messaging_product":"whatsapp","details":..},"fbtrace_id":..}}`.

Scripting (each call queues answers for the next requests, in order; unscripted requests
succeed):
* `fail_next(code=130429, times=2, status=None, details="", delay=0)`: Meta error bodies;
  the HTTP status defaults to what Meta uses for that code (mostly 400).
* `respond_next(status=503, body="<html>...", times=1, delay=0)`: any raw answer.
* `delay_next(seconds, times=1)`: answer normally, but late (for client timeouts).

Every request is recorded, scripted or not, in arrival order: `requests` (all), `sends`
(message sends), `reads` (read receipts); each a RecordedRequest with `method`, `path`,
`headers` (case-insensitive), `json` (the parsed body), `status` and `response`.
`unused_url()` gives a loopback URL where nothing listens (connection refused).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from requests.structures import CaseInsensitiveDict

SEND_PATH = re.compile(r"^/v\d+\.\d+/(?P<phone_number_id>[^/]+)/messages$")
TEMPLATES_PATH = re.compile(r"^/v\d+\.\d+/(?P<waba_id>[^/]+)/message_templates$")
TEMPLATE_PATH = re.compile(r"^/v\d+\.\d+/(?P<template_id>tpl\d+)$")
PHONE_PATH = re.compile(r"^/v\d+\.\d+/(?P<phone_number_id>\d+)$")
MEDIA_PATH = re.compile(r"^/v\d+\.\d+/(?P<media_id>[^/]+)$")
MEDIA_UPLOAD_PATH = re.compile(r"^/v\d+\.\d+/(?P<phone_number_id>[^/]+)/media$")
FILE_PATH = re.compile(r"^/media-files/(?P<media_id>[^/]+)/(?P<generation>\d+)$")
UPLOADS_PATH = re.compile(r"^/v\d+\.\d+/(?P<app_id>[^/]+)/uploads$")
UPLOAD_PATH = re.compile(r"^/v\d+\.\d+/(?P<session>upload:[A-Za-z0-9_-]+)$")
UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")

# Titles Meta uses for the codes tests care about (support/error-codes).
ERROR_TITLES = {
    4: "Application request limit reached",
    100: "Invalid parameter",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131050: "User has stopped receiving marketing messages",
    131051: "Unsupported message type",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    130429: "Rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template does not exist",
    190: "Invalid OAuth access token - Cannot parse access token",
    80007: "Rate limit issues",
}
# Codes Meta answers with a server error status; everything else comes back as 400.
SERVER_ERROR_STATUS = {1: 500, 2: 503, 131000: 500, 131016: 503}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: CaseInsensitiveDict
    json: Any
    status: int = 0
    response: Any = None
    query: dict = field(default_factory=dict)
    # The client's (address, port): requests that share it came over one kept-alive
    # connection.
    connection: tuple = ()
    body: bytes = b""  # the raw bytes (a file upload's content)

    @property
    def phone_number_id(self) -> str:
        match = SEND_PATH.match(self.path)
        return match["phone_number_id"] if match else ""

    @property
    def is_send(self) -> bool:
        return isinstance(self.json, dict) and "type" in self.json

    @property
    def is_read_receipt(self) -> bool:
        return isinstance(self.json, dict) and self.json.get("status") == "read"


@dataclass
class _Answer:
    status: int
    body: Any  # dict -> JSON; str/bytes -> as is; None -> the normal success answer
    delay: float = 0.0


def meta_error(code: int, details: str = "", title: str = "") -> dict:
    title = title or ERROR_TITLES.get(code, "Error")
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or title},
            "fbtrace_id": f"A{uuid.uuid4().hex[:22]}",
        }
    }


class FakeGraph:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[_Answer] = deque()
        self._requests: list[RecordedRequest] = []
        self.templates: dict[str, list[dict]] = {}  # WABA id -> its templates at "Meta"
        self.media: dict[str, dict] = {}  # media id -> {content, mime_type, generation}
        self.uploads: list[RecordedRequest] = []  # POST /{phone_number_id}/media
        self._template_seq = 0
        self._upload_sessions: dict[str, dict] = {}  # session id -> what step 1 declared
        self.uploaded: list[dict] = []  # files received by upload sessions, in order
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps the connection open between requests, as Meta's servers do,
            # so tests can see whether the client reuses it (every answer has a length).
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: with Nagle's algorithm on, the
            # body waits for the client's delayed ACK (about 40 ms on Linux) on a kept-alive
            # connection, on every request (RFC 1122 §4.2.3.2; TCP_NODELAY in tcp(7)).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                fake._handle(self)

            do_GET = do_POST  # noqa: N815
            do_DELETE = do_POST  # noqa: N815

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

    def start(self) -> FakeGraph:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.templates.clear()
            self.media.clear()
            self.uploads.clear()
            self._upload_sessions.clear()
            self.uploaded.clear()

    # --- scripting ---------------------------------------------------------------------
    def fail_next(
        self,
        *,
        code: int = 130429,
        times: int = 1,
        status: int | None = None,
        details: str = "",
        delay: float = 0.0,
    ) -> None:
        """The next `times` requests get Meta's error `code`."""
        status = status or SERVER_ERROR_STATUS.get(code, 400)
        with self._lock:
            for _ in range(times):
                self._script.append(_Answer(status, meta_error(code, details), delay))

    def respond_next(
        self, *, status: int, body: Any = "", times: int = 1, delay: float = 0.0
    ) -> None:
        """The next `times` requests get this raw answer (e.g. a 502 page from a proxy)."""
        with self._lock:
            for _ in range(times):
                self._script.append(_Answer(status, body, delay))

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next `times` requests are answered normally, after `seconds`."""
        with self._lock:
            for _ in range(times):
                self._script.append(_Answer(200, None, seconds))

    # --- what was received -------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def sends(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_send]

    @property
    def reads(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.is_read_receipt]

    # --- the server side ---------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        record = RecordedRequest(
            method=handler.command,
            path=handler.path.split("?", 1)[0],
            headers=CaseInsensitiveDict(handler.headers.items()),
            json=body,
            query=parse_qs(handler.path.split("?", 1)[1]) if "?" in handler.path else {},
            connection=tuple(handler.client_address[:2]),
            body=raw,
        )
        with self._lock:
            self._requests.append(record)
            scripted = self._script.popleft() if self._script else None
        status, answer = self._answer(record, scripted)
        record.status, record.response = status, answer
        if scripted and scripted.delay:
            time.sleep(scripted.delay)
        payload = (
            answer
            if isinstance(answer, bytes)
            else (answer.encode() if isinstance(answer, str) else json.dumps(answer).encode())
        )
        try:
            handler.send_response(status)
            ctype = "application/json" if not isinstance(answer, (str, bytes)) else "text/html"
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    # --- message templates (Meta: https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates/)
    def add_template(self, waba_id: str, **template: Any) -> dict:
        """A template the WABA has at Meta (made in Meta's manager, or submitted)."""
        with self._lock:
            self._template_seq += 1
            record = {"id": f"tpl{self._template_seq}", "status": "PENDING", **template}
            self.templates.setdefault(waba_id, []).append(record)
            return record

    def set_template_status(self, waba_id: str, name: str, status: str, **extra: Any) -> None:
        with self._lock:
            for template in self.templates.get(waba_id, []):
                if template["name"] == name:
                    template.update(status=status, **extra)

    def _templates_answer(self, record: RecordedRequest, waba_id: str, query: dict) -> tuple:
        listed = self.templates.setdefault(waba_id, [])
        if record.method == "POST":
            body = record.json if isinstance(record.json, dict) else {}
            created = self.add_template(waba_id, **body)
            return 200, {"id": created["id"], "status": "PENDING", "category": body.get("category")}
        if record.method == "DELETE":
            name, hsm_id = query.get("name", [""])[0], query.get("hsm_id", [""])[0]
            with self._lock:
                self.templates[waba_id] = [
                    t for t in listed if not (t["name"] == name and hsm_id in ("", t["id"]))
                ]
            return 200, {"success": True}
        # GET: two per page, so the client must follow the cursor.
        start = int(query.get("after", ["0"])[0] or 0)
        page = listed[start : start + 2]
        answer: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": str(start)}}}
        if start + 2 < len(listed):
            answer["paging"]["cursors"]["after"] = str(start + 2)
            answer["paging"]["next"] = f"{self.url}{record.path}?after={start + 2}"
        return 200, answer

    # --- media header samples (Meta: https://developers.facebook.com/docs/graph-api/guides/upload)
    def _upload_answer(self, record: RecordedRequest, scripted: _Answer | None) -> tuple:
        auth = str(record.headers.get("Authorization", ""))
        if record.method != "POST" or not auth.startswith(("Bearer ", "OAuth ")):
            return 401, meta_error(190)
        if scripted is not None and scripted.body is not None:
            return scripted.status, scripted.body
        one = {k: v[0] for k, v in record.query.items()}
        if opening := UPLOADS_PATH.match(record.path):
            length = one.get("file_length", "")
            if one.get("file_type") not in UPLOAD_TYPES or not length.isdigit() or not int(length):
                return 400, meta_error(100, f"Invalid file_type or file_length: {one}")
            session, sig = uuid.uuid4().hex, uuid.uuid4().hex[:12]
            with self._lock:
                self._upload_sessions[f"upload:{session}"] = {
                    **one,
                    "app_id": opening["app_id"],
                    "sig": sig,
                }
            return 200, {"id": f"upload:{session}?sig={sig}"}
        session_id = UPLOAD_PATH.match(record.path)["session"]
        with self._lock:
            declared = self._upload_sessions.get(session_id)
        if declared is None or one.get("sig") != declared["sig"]:
            return 400, meta_error(100, f"Unknown upload session: {session_id}")
        if not auth.startswith("OAuth ") or record.headers.get("file_offset") != "0":
            return 400, meta_error(100, "An upload needs Authorization: OAuth and file_offset: 0")
        if len(record.body) != int(declared["file_length"]):
            return 400, meta_error(100, "The file is not the length the session declared")
        kind = base64.b64encode(declared["file_type"].encode()).decode()
        handle = f"4::{kind}:AR{uuid.uuid4().hex}"
        with self._lock:
            self.uploaded.append(
                {
                    "file_name": declared.get("file_name", ""),
                    "file_type": declared["file_type"],
                    "app_id": declared["app_id"],
                    "content": record.body,
                    "handle": handle,
                }
            )
        return 200, {"h": handle}

    # --- media (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media)
    def add_media(self, media_id: str, content: bytes, mime_type: str) -> None:
        """A file a customer sent: `GET /{media_id}` answers its short-lived URL here."""
        with self._lock:
            self.media[media_id] = {"content": content, "mime_type": mime_type, "generation": 1}

    def expire_media(self, media_id: str) -> None:
        """The URLs given so far stop working (Meta's last about five minutes)."""
        with self._lock:
            self.media[media_id]["generation"] += 1

    def _media_answer(self, record: RecordedRequest) -> tuple[int, Any] | None:
        if (match := MEDIA_UPLOAD_PATH.match(record.path)) and record.method == "POST":
            media_id = f"{900000 + len(self.uploads) + 1}"
            self.uploads.append(record)
            return 200, {"id": media_id}
        if (match := FILE_PATH.match(record.path)) and record.method == "GET":
            item = self.media.get(match["media_id"])
            if item is None or int(match["generation"]) != item["generation"]:
                return 404, "expired"
            return 200, item["content"]
        if (match := MEDIA_PATH.match(record.path)) and record.method == "GET":
            item = self.media.get(match["media_id"])
            if item is None:
                return None
            content = item["content"]
            return 200, {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/media-files/{match['media_id']}/{item['generation']}",
                "mime_type": item["mime_type"],
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": match["media_id"],
            }
        return None

    def _answer(self, record: RecordedRequest, scripted: _Answer | None) -> tuple[int, Any]:
        if UPLOADS_PATH.match(record.path) or UPLOAD_PATH.match(record.path):
            return self._upload_answer(record, scripted)
        if (
            MEDIA_UPLOAD_PATH.match(record.path)
            or FILE_PATH.match(record.path)
            or (
                MEDIA_PATH.match(record.path)
                and MEDIA_PATH.match(record.path)["media_id"] in self.media
            )
        ):
            if not str(record.headers.get("Authorization", "")).startswith("Bearer "):
                return 401, meta_error(190)
            if scripted is not None and scripted.body is not None:
                return scripted.status, scripted.body
            answer = self._media_answer(record)
            if answer is not None:
                return answer
        if (match := TEMPLATES_PATH.match(record.path)) or TEMPLATE_PATH.match(record.path):
            if not str(record.headers.get("Authorization", "")).startswith("Bearer "):
                return 401, meta_error(190)
            if scripted is not None and scripted.body is not None:
                return scripted.status, scripted.body
            if match:
                return self._templates_answer(record, match["waba_id"], record.query)
            template_id = TEMPLATE_PATH.match(record.path)["template_id"]
            with self._lock:
                for templates in self.templates.values():
                    for template in templates:
                        if template["id"] == template_id and isinstance(record.json, dict):
                            template.update(record.json, status="PENDING")
            return 200, {"success": True}
        if record.method == "GET" and (number := PHONE_PATH.match(record.path)):
            # GET /{phone_number_id}?fields=...: the "test connection" of a Meta bot.
            if not str(record.headers.get("Authorization", "")).startswith("Bearer "):
                return 401, meta_error(190)
            if scripted is not None and scripted.body is not None:
                return scripted.status, scripted.body
            return 200, {
                "display_phone_number": "+55 11 90000-0000",
                "verified_name": "Loja Teste",
                "quality_rating": "GREEN",
                "id": number["phone_number_id"],
            }
        if record.method != "POST" or not SEND_PATH.match(record.path):
            return 400, meta_error(100, f"Unsupported {record.method} request: {record.path}")
        if not str(record.headers.get("Authorization", "")).startswith("Bearer "):
            return 401, meta_error(190)
        if scripted is not None and scripted.body is not None:
            return scripted.status, scripted.body
        body = record.json if isinstance(record.json, dict) else {}
        if body.get("status") == "read":
            return 200, {"success": True}
        to = str(body.get("to", ""))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to) or to}],
            "messages": [{"id": f"wamid.{uuid.uuid4().hex.upper()}"}],
        }


def unused_url() -> str:
    """A loopback URL where nothing listens: requests to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def _fake_graph_server():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def fake_graph(_fake_graph_server, settings) -> FakeGraph:
    """The fake Graph API, empty and unscripted, with WHATSAPP_GRAPH_API_URL pointing at it."""
    _fake_graph_server.reset()
    settings.WHATSAPP_GRAPH_API_URL = _fake_graph_server.url
    yield _fake_graph_server
    _fake_graph_server.reset()
