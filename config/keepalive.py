"""A lean HTTP/1.1 client for config/http.py's direct path: one kept-alive connection per
thread and host, straight on the standard library's http.client.

Why not urllib3 (what requests runs on): for a small JSON POST on a kept-alive connection,
which is what a send to Meta is, its pool manager, connection pool, retry and response
layers cost more CPU than the HTTP itself (benchmarks/RESULTS.md, the sender's share).
http.client speaks HTTP/1.1 (keep-alive, chunked bodies); this module adds what a pool gave:

* reuse per host, with a look before reusing an idle connection: a server that closed it
  meanwhile (its keep-alive timeout) has made the socket readable, so it is dropped and a
  new one opened, as urllib3 does (urllib3: https://urllib3.readthedocs.io/en/stable/reference/urllib3.connection.html);
* TLS verified against the CA bundle, with the URL's host name checked (Python:
  https://docs.python.org/3/library/ssl.html#ssl.create_default_context);
* the answer read to the end (so the connection can be reused) or the connection dropped,
  at most `max_bytes` kept; a compressed answer is inflated within the same cap (nothing asks
  for compression, but a server may send it anyway).

Each thread has its own connections (threading.local): nothing is shared or locked, and a
forked child starts with none. What is not here, on purpose: redirects (config/http.py
hands them to requests), proxies (config/http.py uses requests when one is configured),
retries (the caller's policy).
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

# Hosts a thread keeps a connection to; the least recently used beyond it is closed.
MAX_HOSTS = 8
_CHUNK = 64 * 1024

_local = threading.local()


class TooLarge(Exception):
    """The answer is over the caller's limit (`declared`: the server said so up front)."""

    def __init__(self, size: int | None, *, declared: bool) -> None:
        super().__init__(size)
        self.size, self.declared = size, declared


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage  # case-insensitive .get(), like requests' headers
    body: bytes


@lru_cache(maxsize=4)
def _tls(ca_certs: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_certs)


def _connections() -> OrderedDict:
    pid = os.getpid()
    if getattr(_local, "pid", None) != pid:
        _local.connections, _local.pid = OrderedDict(), pid
    return _local.connections


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle connection with something to read has been closed by the server (or sent
    what nobody asked for): either way it cannot carry the next request."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _connection(scheme: str, host: str, port: int, timeout: float, ca_certs: str):
    key = (scheme, host, port, ca_certs)
    pool = _connections()
    conn = pool.pop(key, None)
    if conn is not None and _closed_by_peer(conn):
        conn.close()
        conn = None
    if conn is None:
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls(ca_certs))
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
    elif conn.sock is not None:
        conn.sock.settimeout(timeout)
    conn.timeout = timeout
    pool[key] = conn  # most recently used last
    while len(pool) > MAX_HOSTS:
        _old_key, old = pool.popitem(last=False)
        old.close()
    return key, conn


def _drop(key: tuple) -> None:
    conn = _connections().pop(key, None)
    if conn is not None:
        conn.close()


def call(
    method: str,
    scheme: str,
    host: str,
    port: int,
    target: str,
    *,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    max_bytes: int,
    ca_certs: str,
) -> Answer:
    """One request on this thread's connection to (scheme, host, port). Raises what
    http.client and the socket raise (OSError, TimeoutError, http.client.HTTPException),
    and TooLarge; the connection is dropped whenever the answer was not read to its end."""
    key, conn = _connection(scheme, host, port, timeout, ca_certs)
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        content = _read(response, max_bytes)
    except BaseException:
        _drop(key)
        raise
    if response.will_close:
        _drop(key)
    return Answer(status=response.status, headers=response.headers, body=content)


def _read(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    declared = str(response.headers.get("Content-Length") or "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(int(declared), declared=True)
    encoding = str(response.headers.get("Content-Encoding") or "").strip().lower()
    inflate = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)  # a zlib (or gzip) header, found out
    chunks, size, received = [], 0, 0
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if inflate is not None:
            # At most one byte over the cap per chunk: enough to know it is over.
            chunk = inflate.decompress(chunk, max_bytes - size + 1)
            if inflate.unconsumed_tail:
                raise TooLarge(None, declared=False)
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(size, declared=False)
        chunks.append(chunk)
    if declared.isdigit() and received < int(declared):
        # http.client returns what came before the server hung up; the answer is cut.
        raise http.client.IncompleteRead(b"", int(declared) - received)
    if inflate is not None:
        tail = inflate.flush()
        size += len(tail)
        if size > max_bytes:
            raise TooLarge(size, declared=False)
        chunks.append(tail)
    return b"".join(chunks)


def close_all() -> None:
    """Close this thread's connections (tests; a thread that is about to end)."""
    pool = _connections()
    while pool:
        _key, conn = pool.popitem()
        conn.close()
