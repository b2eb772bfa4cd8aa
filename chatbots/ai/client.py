"""The one place that talks to Gemini, through google-genai (google-generativeai is
end-of-life and must not be used).

* GEMINI_API_KEY (no key: the assistant runs without AI), GEMINI_MODEL, GEMINI_BASE_URL (a
  proxy, or a fake server on 127.0.0.1 in tests: HttpOptions.base_url).
* Timeouts: HttpOptions.timeout is in MILLISECONDS. A timeout surfaces as an httpx (here:
  httpx2, whichever the SDK uses) error, not a genai one, so both families are caught.
* Retries: the SDK's own (HttpRetryOptions, tenacity) on 408/429/5xx, timeouts and refused
  connections; GEMINI_RETRY_ATTEMPTS attempts with 0.5 s, 1 s backoff (+ up to 0.5 s
  jitter each), so the waits add at most ~2.5 s to the attempts themselves.
* Structured output: response_mime_type="application/json" + response_schema; the answer
  is parsed here, so callers get a dict or a ModelError, never half-valid text.

Calls happen only on the `llm` Celery queue (chatbots.ai.tasks.answer_llm), never in a web
request or on the replies queue.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

CALLS = Counter("chatbot_ai_calls_total", "Model calls by outcome", ["outcome"])
LATENCY = Histogram(
    "chatbot_ai_call_seconds",
    "Model call duration, retries included",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
TOKENS = Counter("chatbot_ai_tokens_total", "Tokens used by model calls", ["kind"])

RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504]
RETRY_INITIAL_DELAY = 0.5  # seconds; doubles (exp_base 2) up to RETRY_MAX_DELAY
RETRY_MAX_DELAY = 2.0
RETRY_JITTER = 0.5


class ModelError(Exception):
    """The model gave no usable answer. `kind`: timeout, unavailable, rejected, malformed,
    blocked (the model's own safety filter) or not_configured."""

    def __init__(self, message: str, *, kind: str, tokens: int = 0):
        super().__init__(message)
        self.kind = kind
        self.tokens = tokens  # tokens billed even though the answer is unusable


@dataclass(frozen=True)
class ModelReply:
    data: dict[str, Any]  # the structured output, parsed
    text: str  # the raw JSON text
    tokens: int  # total tokens billed for the call (usage_metadata.total_token_count)
    prompt_tokens: int = 0
    output_tokens: int = 0
    model: str = ""


def ai_configured() -> bool:
    """True when a Gemini key is set (without one, the assistant answers without AI)."""
    return bool((settings.GEMINI_API_KEY or "").strip())


def _transport_errors() -> tuple[type[BaseException], ...]:
    """httpx's (and its fork httpx2's) error bases: timeouts, refused connections, resets."""
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(module.HTTPError)
        found.append(module.InvalidURL)
    return tuple(found)


def _is_timeout(exc: BaseException) -> bool:
    for name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if isinstance(exc, module.TimeoutException):
            return True
    return False


TRANSPORT_ERRORS = _transport_errors()


@lru_cache(maxsize=4)
def _client(api_key: str, base_url: str, timeout_ms: int, attempts: int):
    """One SDK client (and connection pool) per configuration, per process."""
    from google import genai
    from google.genai import types

    options = types.HttpOptions(
        timeout=timeout_ms,
        retry_options=types.HttpRetryOptions(
            attempts=attempts,
            initial_delay=RETRY_INITIAL_DELAY,
            max_delay=RETRY_MAX_DELAY,
            exp_base=2.0,
            jitter=RETRY_JITTER,
            http_status_codes=RETRY_STATUS_CODES,
        ),
    )
    if base_url:
        options.base_url = base_url
    return genai.Client(api_key=api_key, http_options=options)


def _schema(schema: dict[str, Any]):
    from google.genai import types

    return types.Schema.model_validate(schema)


def generate_json(
    *,
    system: str,
    turns: list[tuple[str, str]],
    schema: dict[str, Any],
    max_output_tokens: int | None = None,
    temperature: float = 0.3,
    timeout_seconds: float | None = None,
    attempts: int | None = None,
    audio: tuple[bytes, str] | None = None,
) -> ModelReply:
    """Ask the model for a JSON object following `schema` (OpenAPI subset, as Gemini takes).

    `audio` (bytes, MIME type) is sent inline with the last turn: Gemini understands audio
    (https://ai.google.dev/gemini-api/docs/audio), which is how voice notes are transcribed.

    `system` is the system instruction (ours only: never customer text); `turns` are
    (role, text) with role "user" (the customer) or "model" (the bot), oldest first, ending
    with the customer's message. The output-token cap, timeout and attempts default to the
    GEMINI_* settings; a short call (chatbots.ai.classifier) asks for less. Raises ModelError.
    """
    if not ai_configured():
        raise ModelError("GEMINI_API_KEY is not set", kind="not_configured")
    from google.genai import errors, types

    client = _client(
        settings.GEMINI_API_KEY.strip(),
        settings.GEMINI_BASE_URL or "",
        int((timeout_seconds or settings.GEMINI_TIMEOUT_SECONDS) * 1000),
        max(1, int(attempts or settings.GEMINI_RETRY_ATTEMPTS)),
    )
    config = types.GenerateContentConfig(
        system_instruction=system,
        response_mime_type="application/json",
        response_schema=_schema(schema),
        max_output_tokens=max_output_tokens or settings.GEMINI_MAX_OUTPUT_TOKENS,
        temperature=temperature,
        candidate_count=1,
    )
    if settings.GEMINI_THINKING_BUDGET >= 0:
        config.thinking_config = types.ThinkingConfig(
            thinking_budget=settings.GEMINI_THINKING_BUDGET
        )
    contents = [types.Content(role=role, parts=[types.Part(text=text)]) for role, text in turns]
    if audio is not None:
        contents[-1].parts.append(types.Part.from_bytes(data=audio[0], mime_type=audio[1]))
    started = time.monotonic()
    try:
        response = client.models.generate_content(
            model=settings.GEMINI_MODEL, contents=contents, config=config
        )
    except errors.APIError as exc:
        retryable = exc.code in RETRY_STATUS_CODES
        raise _failed(
            "unavailable" if retryable else "rejected", f"Gemini {exc.code}: {exc.message}"
        ) from exc
    except TRANSPORT_ERRORS as exc:
        kind = "timeout" if _is_timeout(exc) else "unavailable"
        raise _failed(kind, f"Gemini {kind}: {type(exc).__name__}: {exc}") from exc
    except (ValueError, TypeError) as exc:  # UnknownApiResponseError, pydantic validation
        raise _failed("malformed", f"Gemini answered something unreadable: {exc}") from exc
    finally:
        LATENCY.observe(time.monotonic() - started)

    usage = response.usage_metadata
    tokens = int(getattr(usage, "total_token_count", 0) or 0)
    prompt_tokens = int(getattr(usage, "prompt_token_count", 0) or 0)
    output_tokens = int(getattr(usage, "candidates_token_count", 0) or 0)
    TOKENS.labels(kind="prompt").inc(prompt_tokens)
    TOKENS.labels(kind="output").inc(max(tokens - prompt_tokens, 0))

    feedback = getattr(response, "prompt_feedback", None)
    if feedback is not None and getattr(feedback, "block_reason", None):
        raise _failed("blocked", f"Gemini blocked the prompt: {feedback.block_reason}", tokens)
    try:
        text = response.text or ""
    except (ValueError, AttributeError):
        text = ""
    if not text.strip():
        reason = ""
        if response.candidates:
            reason = str(getattr(response.candidates[0], "finish_reason", "") or "")
        raise _failed("malformed", f"Gemini returned no text (finish reason {reason})", tokens)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _failed("malformed", f"Gemini's answer is not JSON: {text[:200]!r}", tokens) from exc
    if not isinstance(data, dict):
        raise _failed("malformed", f"Gemini's answer is not an object: {text[:200]!r}", tokens)
    CALLS.labels(outcome="ok").inc()
    return ModelReply(
        data=data,
        text=text,
        tokens=tokens,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        model=str(getattr(response, "model_version", "") or settings.GEMINI_MODEL),
    )


def _failed(kind: str, message: str, tokens: int = 0) -> ModelError:
    CALLS.labels(outcome=kind).inc()
    logger.warning("model call failed (%s): %s", kind, message[:300])
    return ModelError(message, kind=kind, tokens=tokens)
