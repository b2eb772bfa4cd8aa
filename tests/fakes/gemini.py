"""A fake Gemini API on 127.0.0.1 (pytest-httpserver) that the REAL google-genai SDK talks to.

Loaded for every test by `pytest_plugins` in the root conftest.py.

    def test_it_recovers(fake_gemini, ...):     # GEMINI_API_KEY set, GEMINI_BASE_URL -> fake
        fake_gemini.fail_next(status=503)       # one "model overloaded", then the default answer
        fake_gemini.answer_with(answer="Abrimos às 9h.", tokens=(120, 30))
        ...
        assert len(fake_gemini.requests) == 2
        assert "Padaria" in fake_gemini.requests[-1].system

What it does, like Google (ai.google.dev/api/generate-content):
* `POST /{version}/models/{model}:generateContent` with the `x-goog-api-key` header answers
  `{"candidates": [{"content": {"role": "model", "parts": [{"text": ...}]},
  "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount",
  "candidatesTokenCount", "totalTokenCount"}, "modelVersion", "responseId"}`. The text is
  the JSON of the structured answer (answer, intent, polarity, offer).
* No key: 403 PERMISSION_DENIED. Another path: 404 NOT_FOUND. Errors as Google sends them:
  `{"error": {"code": 503, "message": "...", "status": "UNAVAILABLE"}}`.

Scripting (each call queues answers for the next requests, in order; unscripted requests
get the default answer):
* `answer_with(answer=..., intent=..., polarity=..., offer=..., tokens=(prompt, output))`:
  the default answer from now on; `respond(fn)`: compute it from the request.
* `fail_next(status=503, times=1, delay=0)`: Google error bodies (429, 500, 503, 400...).
* `delay_next(seconds, times=1)`: answer normally, but late (client timeouts).
* `malformed_next(times=1, body=...)`: a 200 whose body is not what Google sends.
* `reply_next(data, times=1)`: one structured answer (dict) for the next request(s).

The classification calls chatbots.ai.classifier makes before an answer (a response schema
with one "label" field) are scripted and recorded apart, so that a test about answers
counts answers and one about the classifier scripts the classifier:
* `screen_with(label="SAFE", tokens=(40, 4))`: their default; `screen_next(label=...,
  status=..., delay=..., body=..., times=1)`: the next ones (an ATTACK, a 503, a late one,
  a body Google would not send).

Every request is recorded in arrival order: `requests` (the answers) and `screenings` (the
classification calls), each a GeminiRequest with `path`, `headers`, `json`, `model`,
`system` (the system instruction's text) and `user_texts`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request is noise

PATH = re.compile(r"^/(?P<version>v1(?:beta)?)/models/(?P<model>[^/:]+):generateContent$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}


@dataclass
class GeminiRequest:
    path: str
    headers: dict[str, str]
    json: Any
    status: int = 0

    @property
    def model(self) -> str:
        match = PATH.match(self.path)
        return match["model"] if match else ""

    @property
    def system(self) -> str:
        instruction = (self.json or {}).get("systemInstruction") or {}
        return "\n".join(p.get("text", "") for p in instruction.get("parts", []))

    @property
    def contents(self) -> list[dict]:
        return (self.json or {}).get("contents") or []

    @property
    def user_texts(self) -> list[str]:
        return [
            p.get("text", "")
            for c in self.contents
            if c.get("role") == "user"
            for p in c.get("parts", [])
        ]

    @property
    def is_screening(self) -> bool:
        """A classification call (chatbots.ai.classifier): its schema has one "label"."""
        config = (self.json or {}).get("generationConfig") or {}
        schema = config.get("responseSchema") or config.get("response_schema") or {}
        return set(schema.get("properties") or {}) == {"label"}

    @property
    def everything(self) -> str:
        """All the text sent, system and contents: for "never another tenant's" checks."""
        return json.dumps(self.json, ensure_ascii=False)


@dataclass
class _Scripted:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> raw; None -> the default answer
    delay: float = 0.0
    data: dict | None = None  # a structured answer for this one request


@dataclass
class _Default:
    data: dict = field(
        default_factory=lambda: {
            "answer": "Posso ajudar com mais alguma coisa?",
            "intent": "outro",
            "polarity": "neutral",
            "offer": "nenhum",
        }
    )
    tokens: tuple[int, int] = (100, 20)
    responder: Callable[[GeminiRequest], dict] | None = None


@dataclass
class _ScreenDefault:
    label: str = "SAFE"
    tokens: tuple[int, int] = (40, 4)


def google_error(status: int, message: str = "") -> dict:
    return {
        "error": {
            "code": status,
            "message": message or MESSAGES.get(status, "Request failed."),
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


class FakeGemini:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._requests: list[GeminiRequest] = []
        self._default = _Default()
        self._screen_script: deque[_Scripted] = deque()
        self._screenings: list[GeminiRequest] = []
        self._screen_default = _ScreenDefault()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> FakeGemini:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._default = _Default()
            self._screen_script.clear()
            self._screenings.clear()
            self._screen_default = _ScreenDefault()

    # --- scripting ---------------------------------------------------------------------
    def answer_with(
        self,
        *,
        answer: str = "Posso ajudar com mais alguma coisa?",
        intent: str = "outro",
        polarity: str = "neutral",
        offer: str = "nenhum",
        tokens: tuple[int, int] = (100, 20),
    ) -> None:
        with self._lock:
            self._default = _Default(
                data={"answer": answer, "intent": intent, "polarity": polarity, "offer": offer},
                tokens=tokens,
            )

    def respond(self, fn: Callable[[GeminiRequest], dict]) -> None:
        """Compute each answer's structured data from the request."""
        with self._lock:
            self._default.responder = fn

    def reply_next(self, data: dict, *, times: int = 1) -> None:
        with self._lock:
            self._script.extend(_Scripted(data=data) for _ in range(times))

    def fail_next(self, *, status: int = 503, times: int = 1, delay: float = 0.0) -> None:
        with self._lock:
            self._script.extend(
                _Scripted(status=status, body=google_error(status), delay=delay)
                for _ in range(times)
            )

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self._script.extend(_Scripted(delay=seconds) for _ in range(times))

    def malformed_next(self, *, times: int = 1, body: Any = "<html>Bad gateway</html>") -> None:
        """A 200 that is not Gemini's answer (a proxy page, or a candidate without JSON)."""
        with self._lock:
            self._script.extend(_Scripted(status=200, body=body) for _ in range(times))

    def screen_with(self, *, label: str = "SAFE", tokens: tuple[int, int] = (40, 4)) -> None:
        """The classification calls' default label and tokens from now on."""
        with self._lock:
            self._screen_default = _ScreenDefault(label=label, tokens=tokens)

    def screen_next(
        self,
        *,
        label: str | None = None,
        status: int = 200,
        delay: float = 0.0,
        body: Any = None,
        times: int = 1,
    ) -> None:
        """The next classification call(s): a label, a Google error (`status`), late
        (`delay`), or a raw `body`."""
        if status != 200 and body is None:
            body = google_error(status)
        data = {"label": label} if label is not None else None
        with self._lock:
            self._screen_script.extend(
                _Scripted(status=status, body=body, delay=delay, data=data) for _ in range(times)
            )

    # --- what was received -------------------------------------------------------------
    @property
    def requests(self) -> list[GeminiRequest]:
        """The answer calls (every request but the classification ones)."""
        with self._lock:
            return list(self._requests)

    @property
    def screenings(self) -> list[GeminiRequest]:
        """The classification calls."""
        with self._lock:
            return list(self._screenings)

    # --- the server side ---------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        record = GeminiRequest(
            path=request.path, headers={k.lower(): v for k, v in request.headers.items()}, json=body
        )
        with self._lock:
            if record.is_screening:
                self._screenings.append(record)
                scripted = self._screen_script.popleft() if self._screen_script else None
                screen = self._screen_default
                default = _Default(data={"label": screen.label}, tokens=screen.tokens)
            else:
                self._requests.append(record)
                scripted = self._script.popleft() if self._script else None
                default = self._default
        status, answer = self._answer(record, scripted, default)
        record.status = status
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
        if isinstance(answer, (str, bytes)):
            return Response(answer, status=status, content_type="text/html")
        return Response(json.dumps(answer), status=status, content_type="application/json")

    def _answer(
        self, record: GeminiRequest, scripted: _Scripted | None, default: _Default
    ) -> tuple[int, Any]:
        if request_error := self._request_error(record):
            return request_error
        if scripted is not None and scripted.body is not None:
            return scripted.status, scripted.body
        if scripted is not None and scripted.data is not None:
            data = scripted.data
        elif default.responder is not None:
            data = default.responder(record)
        else:
            data = default.data
        prompt_tokens, output_tokens = default.tokens
        return 200, {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": json.dumps(data, ensure_ascii=False)}],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            },
            "modelVersion": record.model,
            "responseId": uuid.uuid4().hex[:22],
        }

    @staticmethod
    def _request_error(record: GeminiRequest) -> tuple[int, dict] | None:
        if not PATH.match(record.path):
            return 404, google_error(404, f"Path {record.path} not found.")
        if not record.headers.get("x-goog-api-key"):
            return 403, google_error(
                403, "Method doesn't allow unregistered callers. Please use an API key."
            )
        if not isinstance(record.json, dict) or not record.json.get("contents"):
            return 400, google_error(
                400, "* GenerateContentRequest.contents: contents is not specified"
            )
        return None


@pytest.fixture(scope="session")
def _fake_gemini_server():
    server = FakeGemini().start()
    yield server
    server.stop()


@pytest.fixture
def fake_gemini(_fake_gemini_server, settings) -> FakeGemini:
    """The fake Gemini API, with GEMINI_API_KEY set and GEMINI_BASE_URL pointing at it.

    Timeouts and retries are shortened so failure paths stay fast (one retry, 2 s).
    """
    _fake_gemini_server.reset()
    settings.GEMINI_API_KEY = "test-gemini-key"
    settings.GEMINI_BASE_URL = _fake_gemini_server.url
    settings.GEMINI_TIMEOUT_SECONDS = 2.0
    settings.GEMINI_RETRY_ATTEMPTS = 2
    yield _fake_gemini_server
    _fake_gemini_server.reset()
