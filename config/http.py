"""The one way out to the network: every outbound HTTP call of the project goes through here.

Why one module: a timeout on every call (settings.HTTP_TIMEOUT_SECONDS unless the caller
passes a shorter one), a size cap on every answer (settings.HTTP_MAX_RESPONSE_BYTES), one
place that turns transport failures into our own exceptions, one log line per call that
never carries credentials, and one seam for tests (point the base URL settings at a fake
server on 127.0.0.1, or patch `request`). ruff bans importing `requests` anywhere else
(pyproject.toml, TID251).

Two kinds of URL, two entry points:

* `request` (and `get`, `post`): URLs the operator configured (WHATSAPP_GRAPH_API_URL,
  CAL_API_BASE_URL). Redirects are followed and a configured proxy is used. Without a proxy
  (the usual case, and every send to Meta) the call goes straight through config.keepalive,
  one kept-alive connection per thread and host on http.client: a send costs a fraction of
  the CPU of requests' Session machinery (environment, hooks, cookies) or of urllib3's pool
  layers (benchmarks/RESULTS.md), and no new TCP or TLS handshake. A redirect answer is
  followed through requests. With a proxy, or files to upload, requests' Session does the
  call, as it applies NO_PROXY per URL.
* `tenant_request` and `download`: URLs a tenant typed (a bot's provider server, the
  plan-alert webhook, a media link). The egress policy (config/egress.py) checks the
  host's addresses once and the connection goes to the checked address (`_PinnedAdapter`),
  never to a second DNS answer; redirects are not followed (each hop would need the check
  again) and no proxy is used (a proxy would resolve the name itself).

HTTP error statuses are NOT exceptions here: providers branch on the error body they get
(Meta's `error.code`, Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), so they receive every response and decide.
`HTTPResponse.raise_for_status()` is there for callers that only care about success.
Retries are the caller's policy too (Celery tasks retry with backoff; a web request should
not sit in a retry loop).
"""

from __future__ import annotations

import http.client as http_client
import json as jsonlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import getproxies

import certifi
import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from config import egress, keepalive

logger = logging.getLogger(__name__)

USER_AGENT = "chatbot-platform/1.0"
_CHUNK = 64 * 1024


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


class HTTPRefused(HTTPError):
    """A call we will not make: a URL the egress policy refuses (the text, pt-BR, says why
    and is fit for the business user), or an answer over the size limit."""

    retryable = False


class HTTPTooLarge(HTTPRefused):
    """The answer is larger than the caller's limit: it was not read to the end."""


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


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address the egress policy checked (`PreparedRequest.pinned_address`,
    set by `_tenant_send`) instead of resolving the URL's host again. TLS still sends the
    URL's name (SNI) and checks the certificate against it, as urllib3 documents for a
    connection to an address on behalf of a name (urllib3: https://urllib3.readthedocs.io/en/stable/advanced-usage.html#custom-sni-hostname).
    A request without a checked address is refused: this adapter never falls back to DNS."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        address = getattr(request, "pinned_address", "")
        if not address:
            raise ValueError("no checked address for this request")
        name = host_params["host"]
        host_params["host"] = address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


# One Session (connection pool, keep-alive) per thread and per process: Session is not
# documented as thread-safe, and a pool inherited across fork() would share sockets.
_local = threading.local()


def _ca_bundle() -> str | bool:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


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
            session.verify = _ca_bundle()
        tenant = requests.Session()
        tenant.headers["User-Agent"] = USER_AGENT
        tenant.trust_env = False  # no proxy, no netrc: see the module docstring
        tenant.verify = _ca_bundle()
        tenant.mount("http://", _PinnedAdapter())
        tenant.mount("https://", _PinnedAdapter())
        _local.session, _local.tenant_session, _local.pid = session, tenant, pid
    return session


def _tenant_session() -> requests.Session:
    _session()
    return _local.tenant_session


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


def _read(raw: requests.Response, max_bytes: int) -> bytes:
    """The body, at most `max_bytes` (decompressed: a small gzip cannot fill the memory);
    HTTPTooLarge as soon as the server declares or sends more."""
    declared = str(raw.headers.get("Content-Length") or "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPTooLarge(f"{_safe_url(raw.url)}: {declared} bytes, over {max_bytes}")
    chunks, size = [], 0
    for chunk in raw.iter_content(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise HTTPTooLarge(f"{_safe_url(raw.url)}: over {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _cap(max_bytes: int | None) -> int:
    return int(max_bytes if max_bytes is not None else settings.HTTP_MAX_RESPONSE_BYTES)


@contextmanager
def _tenant_send(
    method: str, url: str, *, schemes: tuple[str, ...], limit: float, **kwargs: Any
) -> Iterator[tuple[requests.Response, egress.Target]]:
    """Open a call to a tenant's URL at its checked address (see the module docstring); the
    streamed response is closed on leaving. HTTPRefused when the policy refuses the URL."""
    session = _tenant_session()
    with _transport_errors(method, url, limit):  # a URL requests cannot even parse
        prepared = session.prepare_request(requests.Request(method.upper(), url, **kwargs))
    try:
        target = egress.target_check(prepared.url, schemes=schemes)
    except egress.EgressRefused as exc:
        logger.warning("http refused by the egress policy", extra={"url": _safe_url(url)})
        raise HTTPRefused(str(exc)) from None
    except OSError as exc:
        logger.warning("http name not resolved", extra={"url": _safe_url(url)})
        raise HTTPConnectionError(f"{method.upper()} {_safe_url(url)}: cannot resolve") from exc
    # The Host header names the site: the connection itself goes to `target.address`.
    prepared.headers["Host"] = urlsplit(prepared.url).netloc.rsplit("@", 1)[-1]
    prepared.pinned_address = target.address
    # The adapter itself, not Session.send: the session would read a redirect's whole body
    # (uncapped) to prepare the next hop, and keep cookies from one tenant's server.
    adapter = session.get_adapter(prepared.url)
    with (
        _transport_errors(method, url, limit),
        adapter.send(
            prepared, stream=True, timeout=limit, verify=session.verify, proxies={}
        ) as raw,
    ):
        yield raw, target


def _response(raw: requests.Response, content: bytes, started: float, **log: Any) -> HTTPResponse:
    elapsed = time.monotonic() - started
    logger.info(
        "http call",
        extra={
            "method": raw.request.method,
            "url": _safe_url(raw.url),
            "status": raw.status_code,
            "elapsed_ms": round(elapsed * 1000),
            **log,
        },
    )
    return HTTPResponse(
        status_code=raw.status_code,
        content=content,
        url=raw.url,
        headers=raw.headers,
        elapsed=elapsed,
    )


# --- The direct path: config.keepalive, one connection per thread and host ---------------

# Statuses whose Location the call follows (through requests, which knows the rules), as
# urllib3 did for this path: the direct path itself never redirects.
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _ca_certs() -> str:
    ca = _ca_bundle()
    return ca if isinstance(ca, str) else certifi.where()


def _direct() -> bool:
    """Whether `request` may skip requests: no proxy configured (read once per thread, as
    the sessions are)."""
    _session()
    return not _local.session.trust_env


def _log_timeout(method: str, url: str, limit: float) -> None:
    logger.warning(
        "http timeout", extra={"method": method.upper(), "url": _safe_url(url), "timeout": limit}
    )


def _with_params(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    query = urlencode([(k, v) for k, v in params.items() if v is not None], doseq=True)
    if not query:
        return url
    base, _hash, fragment = url.partition("#")
    joined = f"{base}{'&' if '?' in base else '?'}{query}"
    return f"{joined}#{fragment}" if fragment else joined


def _body(json: Any, data: Any, headers: dict[str, str]) -> bytes | None:
    """The request body as requests would encode it (JSON, a form, or bytes as they are)."""
    names = {name.lower() for name in headers}
    if data is not None and data != {}:
        if isinstance(data, Mapping) or isinstance(data, list):
            if "content-type" not in names:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            return urlencode(
                list(data.items()) if isinstance(data, Mapping) else data, doseq=True
            ).encode()
        return data.encode() if isinstance(data, str) else bytes(data)
    if json is not None:
        if "content-type" not in names:
            headers["Content-Type"] = "application/json"
        return jsonlib.dumps(json, allow_nan=False).encode()
    return None


def _direct_request(
    method: str,
    url: str,
    *,
    json: Any,
    data: Any,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    limit: float,
    max_bytes: int,
    started: float,
) -> HTTPResponse:
    full_url = _with_params(url, params)
    sent_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **(headers or {})}
    body = _body(json, data, sent_headers)
    what = f"{method.upper()} {_safe_url(url)}"
    try:
        parts = urlsplit(full_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        answer = keepalive.call(
            method.upper(),
            parts.scheme,
            host,
            port,
            target,
            headers=sent_headers,
            body=body,
            timeout=limit,
            max_bytes=max_bytes,
            ca_certs=_ca_certs(),
        )
    except keepalive.TooLarge as exc:
        over = f"{exc.size} bytes, over" if exc.declared else "over"
        raise HTTPTooLarge(f"{_safe_url(full_url)}: {over} {max_bytes} bytes") from None
    except TimeoutError as exc:
        _log_timeout(method, url, limit)
        raise HTTPTimeout(f"{what}: no answer in {limit:g} s") from exc
    except (OSError, http_client.HTTPException) as exc:
        logger.warning(
            "http connection error", extra={"method": method.upper(), "url": _safe_url(url)}
        )
        raise HTTPConnectionError(f"{what}: {type(exc).__name__}") from exc
    except ValueError as exc:  # an invalid URL or port
        raise HTTPError(f"{what}: {exc}") from exc
    location = answer.headers.get("Location")
    if answer.status in _REDIRECTS and location:
        return _redirected(
            method,
            answer.status,
            urljoin(full_url, location),
            body,
            sent_headers,
            limit,
            max_bytes,
            started,
        )
    elapsed = time.monotonic() - started
    logger.info(
        "http call",
        extra={
            "method": method.upper(),
            "url": _safe_url(full_url),
            "status": answer.status,
            "elapsed_ms": round(elapsed * 1000),
        },
    )
    return HTTPResponse(
        status_code=answer.status,
        content=answer.body,
        url=full_url,
        headers=answer.headers,
        elapsed=elapsed,
    )


def _redirected(
    method: str,
    status: int,
    location: str,
    body: bytes | None,
    headers: dict[str, str],
    limit: float,
    max_bytes: int,
    started: float,
) -> HTTPResponse:
    """Follow a redirect through requests (which follows any further ones), with the method
    it would use: a 303, or a 301/302 after a POST, becomes a body-less GET (RFC 9110 15.4:
    https://www.rfc-editor.org/rfc/rfc9110#section-15.4)."""
    method = method.upper()
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    with (
        _transport_errors(method, location, limit),
        _session().request(
            method, location, data=body, headers=headers, timeout=limit, stream=True
        ) as raw,
    ):
        content = _read(raw, max_bytes)
    return _response(raw, content, started)


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
    max_bytes: int | None = None,
) -> HTTPResponse:
    """Make one HTTP call to a URL the operator configured and return its response, whatever
    the status.

    Raises HTTPTimeout or HTTPConnectionError when there is no response at all, HTTPTooLarge
    when the answer is over `max_bytes` (default settings.HTTP_MAX_RESPONSE_BYTES).
    `timeout` (seconds, for connecting and for each read) defaults to
    settings.HTTP_TIMEOUT_SECONDS; a caller may pass less, never "no timeout". `files`
    ({field: (filename, bytes, content type)}) sends `data` and the files as
    multipart/form-data.
    """
    limit, started = _limit(timeout), time.monotonic()
    # A file-like body streams through requests, which sends its Content-Length.
    if not files and not hasattr(data, "read") and _direct():
        return _direct_request(
            method,
            url,
            json=json,
            data=data,
            params=params,
            headers=headers,
            limit=limit,
            max_bytes=_cap(max_bytes),
            started=started,
        )
    with (
        _transport_errors(method, url, limit),
        _session().request(
            method.upper(),
            url,
            json=json,
            data=data,
            files=dict(files) if files else None,
            params=params,
            headers=dict(headers or {}),
            timeout=limit,
            stream=True,
        ) as raw,
    ):
        content = _read(raw, _cap(max_bytes))
    return _response(raw, content, started)


def tenant_request(
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Any = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
) -> HTTPResponse:
    """`request` for a URL a tenant set, under the egress policy (config/egress.py): https
    to a public address only, connected to the address that was checked, redirects
    returned as they are (a 3xx response), never followed.

    Raises HTTPRefused (its text in pt-BR, fit for the business user) when the policy
    refuses the URL, before any connection; otherwise as `request`.
    """
    limit, started = _limit(timeout), time.monotonic()
    with _tenant_send(
        method,
        url,
        schemes=egress.SECURE_SCHEMES,
        limit=limit,
        json=json,
        data=data,
        files=dict(files) if files else None,
        params=params,
        headers=dict(headers or {}),
    ) as (raw, target):
        content = _read(raw, _cap(max_bytes))
    return _response(raw, content, started, address=target.address)


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str


def download(url: str, *, max_bytes: int, timeout: float | None = None) -> Download:
    """GET a file a message links to (a catalog photo, a PDF menu), at most `max_bytes`.

    The URL is the business's own configuration, fetched from inside our network: so under
    the egress policy as `tenant_request` (http allowed too: a link carries no credentials),
    refused when the server declares or sends more than `max_bytes`. Raises HTTPRefused
    (HTTPTooLarge for the size) for those, HTTPTimeout / HTTPConnectionError /
    HTTPStatusError otherwise.
    """
    limit = _limit(timeout)
    with _tenant_send("GET", url, schemes=egress.MEDIA_SCHEMES, limit=limit) as (raw, _target):
        if raw.status_code >= 400 or raw.is_redirect:
            raise HTTPStatusError(
                HTTPResponse(status_code=raw.status_code, content=b"", url=raw.url)
            )
        content = _read(raw, max_bytes)
        content_type = (raw.headers.get("Content-Type") or "").split(";")[0].strip()
    filename = urlsplit(url).path.rsplit("/", 1)[-1] or "arquivo"
    logger.info("http download", extra={"url": _safe_url(url), "bytes": len(content)})
    return Download(
        content=content,
        content_type=content_type or "application/octet-stream",
        filename=filename[:200],
    )


def get(url: str, **kwargs: Any) -> HTTPResponse:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> HTTPResponse:
    return request("POST", url, **kwargs)
