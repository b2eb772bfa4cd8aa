"""The one way out to the network: every outbound HTTP call of the project goes through here.

Why one module: a timeout on every call (settings.HTTP_TIMEOUT_SECONDS unless the caller
passes a shorter one), one place that turns transport failures into our own exceptions, one
log line per call that never carries credentials, and one seam for tests (point the base
URL settings at a fake server on 127.0.0.1, or patch `request`). ruff bans importing
`requests` anywhere else (pyproject.toml, TID251).

HTTP error statuses are NOT exceptions here: providers branch on the error body they get
(Meta's `error.code`, Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), so they receive every response and decide.
`HTTPResponse.raise_for_status()` is there for callers that only care about success.
Retries are the caller's policy too (Celery tasks retry with backoff; a web request should
not sit in a retry loop).
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

USER_AGENT = "chatbot-platform/1.0"


class HTTPError(Exception):
    """An outbound HTTP call failed. Transport failures (timeouts, refused connections) are
    worth retrying later; a status error carries the response."""

    retryable = True


class HTTPTimeout(HTTPError):
    """No answer within the timeout (connecting or reading)."""


class HTTPConnectionError(HTTPError):
    """Could not connect: refused, DNS failure, TLS failure, connection reset."""


class HTTPStatusError(HTTPError):
    """Raised by HTTPResponse.raise_for_status() for 4xx/5xx answers."""

    def __init__(self, response: HTTPResponse):
        super().__init__(f"HTTP {response.status_code} from {_safe_url(response.url)}")
        self.response = response
        self.retryable = response.status_code >= 500 or response.status_code == 429


@dataclass(frozen=True)
class HTTPResponse:
    """What a call returned. Our own type, so callers and test doubles never need `requests`."""

    status_code: int
    content: bytes
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive when real
    elapsed: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError when the body is not JSON."""
        return jsonlib.loads(self.content or b"null")

    def raise_for_status(self) -> HTTPResponse:
        if self.status_code >= 400:
            raise HTTPStatusError(self)
        return self


# One Session (connection pool, keep-alive) per thread and per process: Session is not
# documented as thread-safe, and a pool inherited across fork() would share sockets.
_local = threading.local()


def _session() -> requests.Session:
    pid = os.getpid()
    session = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != pid:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        # With trust_env, requests reads the proxy variables, the CA bundle variables and
        # ~/.netrc again on every call (a tenth of a send's CPU, benchmarks/RESULTS.md).
        # Our calls carry their own credentials, so netrc is never wanted; the CA bundle is
        # read once here, as requests would; only a configured proxy keeps requests' own
        # per-call handling (it applies NO_PROXY per URL).
        session.trust_env = bool(getproxies())
        if not session.trust_env:
            session.verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
        _local.session, _local.pid = session, pid
    return session


def _limit(timeout: float | None) -> float:
    return float(timeout if timeout is not None else settings.HTTP_TIMEOUT_SECONDS)


@contextmanager
def _transport_errors(method: str, url: str, limit: float):
    """requests' exceptions as ours, logged without credentials (see the module docstring)."""
    what = f"{method.upper()} {_safe_url(url)}"
    try:
        yield
    except requests.Timeout as exc:
        logger.warning(
            "http timeout",
            extra={"method": method.upper(), "url": _safe_url(url), "timeout": limit},
        )
        raise HTTPTimeout(f"{what}: no answer in {limit:g} s") from exc
    except requests.ConnectionError as exc:
        logger.warning(
            "http connection error", extra={"method": method.upper(), "url": _safe_url(url)}
        )
        raise HTTPConnectionError(f"{what}: {type(exc).__name__}") from exc
    except requests.RequestException as exc:  # invalid URL, too many redirects, ...
        raise HTTPError(f"{what}: {exc}") from exc


def _safe_url(url: str) -> str:
    """scheme://host/path only: query strings may carry API keys, and never log those."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> HTTPResponse:
    """Make one HTTP call and return its response, whatever the status.

    Raises HTTPTimeout or HTTPConnectionError when there is no response at all. `timeout`
    (seconds, for connecting and for each read) defaults to settings.HTTP_TIMEOUT_SECONDS;
    a caller may pass less, never "no timeout". `files` ({field: (filename, bytes,
    content type)}) sends `data` and the files as multipart/form-data.
    """
    limit = _limit(timeout)
    started = time.monotonic()
    with _transport_errors(method, url, limit):
        raw = _session().request(
            method.upper(),
            url,
            json=json,
            data=data,
            files=dict(files) if files else None,
            params=params,
            headers=dict(headers or {}),
            timeout=limit,
        )
    elapsed = time.monotonic() - started
    logger.info(
        "http call",
        extra={
            "method": method.upper(),
            "url": _safe_url(url),
            "status": raw.status_code,
            "elapsed_ms": round(elapsed * 1000),
        },
    )
    return HTTPResponse(
        status_code=raw.status_code,
        content=raw.content,
        url=raw.url,
        headers=raw.headers,
        elapsed=elapsed,
    )


class HTTPRefused(HTTPError):
    """A download we will not make: a private address, or a file over the size limit."""

    retryable = False


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str


def download(url: str, *, max_bytes: int, timeout: float | None = None) -> Download:
    """GET a file a message links to (a catalog photo, a PDF menu), at most `max_bytes`.

    The URL is the business's own configuration, but it is fetched from inside our network:
    so only http(s) to public addresses (unless settings.HTTP_DOWNLOAD_ALLOW_PRIVATE, for
    tests and all-internal set-ups), refused when the server declares or sends more than
    `max_bytes`. Raises HTTPRefused for those, HTTPTimeout / HTTPConnectionError /
    HTTPStatusError otherwise.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HTTPRefused(f"only http(s) links can be downloaded: {_safe_url(url)}")
    if not settings.HTTP_DOWNLOAD_ALLOW_PRIVATE:
        _refuse_private_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    limit = _limit(timeout)
    with (
        _transport_errors("GET", url, limit),
        _session().get(url, stream=True, timeout=limit, allow_redirects=False) as raw,
    ):
        if raw.status_code >= 400 or raw.is_redirect:
            # Redirects are not followed: each hop would need the address check again.
            raise HTTPStatusError(
                HTTPResponse(status_code=raw.status_code, content=b"", url=raw.url)
            )
        declared = int(raw.headers.get("Content-Length") or 0)
        if declared > max_bytes:
            raise HTTPRefused(f"{_safe_url(url)}: {declared} bytes, over {max_bytes}")
        chunks, size = [], 0
        for chunk in raw.iter_content(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise HTTPRefused(f"{_safe_url(url)}: over {max_bytes} bytes")
            chunks.append(chunk)
        content_type = (raw.headers.get("Content-Type") or "").split(";")[0].strip()
    filename = parts.path.rsplit("/", 1)[-1] or "arquivo"
    logger.info("http download", extra={"url": _safe_url(url), "bytes": size})
    return Download(
        content=b"".join(chunks),
        content_type=content_type or "application/octet-stream",
        filename=filename[:200],
    )


def _refuse_private_host(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise HTTPConnectionError(f"cannot resolve {host}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise HTTPRefused(f"{host} is a private address ({address}); not downloaded")


def get(url: str, **kwargs: Any) -> HTTPResponse:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> HTTPResponse:
    return request("POST", url, **kwargs)
