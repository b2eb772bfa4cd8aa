"""The direct path of config/http.py (config.keepalive): what a send to an operator-configured
URL meets on the wire — kept-alive connections that a server may close, chunked and
compressed answers, answers over the size cap, redirects, a server that hangs up mid-answer."""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
from dataclasses import dataclass, field

import pytest

from config import http, keepalive


@dataclass
class Seen:
    connection: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Scripted:
    """Answers by path; every request is recorded with the number of its connection."""

    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    hung_up: threading.Event = field(default_factory=threading.Event)


def _answer(status: int, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body


ROUTES = {
    "/ok": lambda: _answer(200, b'{"ok": true}', "Content-Type: application/json"),
    "/chunked": lambda: _chunked(b"abc" * 10, b"def" * 10),
    "/gzip": lambda: _answer(200, gzip.compress(b"x" * 500), "Content-Encoding: gzip"),
    "/bomb": lambda: _answer(200, gzip.compress(b"0" * 200_000), "Content-Encoding: gzip"),
    "/declared-big": lambda: b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"y" * 5000,
    "/streamed-big": lambda: _chunked(*[b"z" * 300] * 5),
    "/see-other": lambda: _answer(302, b"", "Location: /ok"),
    "/temporary": lambda: _answer(307, b"", "Location: /ok"),
    "/close-after": lambda: _answer(200, b"bye", "Connection: close"),
}


@pytest.fixture
def server():
    script = Scripted()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            with script.lock:
                script.connections += 1
                number = script.connections
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                method, path, _version = line.decode().split(" ", 2)
                headers = {}
                while (header := self.rfile.readline().decode()) not in ("\r\n", ""):
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = self.rfile.read(int(headers.get("content-length", "0") or 0))
                with script.lock:
                    script.seen.append(Seen(number, method, path, headers, body))
                if path == "/hang-up":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    self.wfile.flush()
                    return
                if path == "/close-idle":  # answers, then closes the idle connection
                    self.wfile.write(_answer(200, b"done"))
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    script.hung_up.set()
                    return
                self.wfile.write(ROUTES[path]())
                self.wfile.flush()
                if path == "/close-after":
                    return

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    script.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield script
    srv.shutdown()
    srv.server_close()
    keepalive.close_all()


def test_calls_share_one_connection_and_a_closed_idle_one_is_replaced_silently(server):
    assert http.get(f"{server.url}/ok").json() == {"ok": True}
    assert http.post(f"{server.url}/close-idle", json={"n": 1}).content == b"done"
    assert server.hung_up.wait(5)
    # The server hung up while the connection sat idle: the next call opens a new one.
    assert http.get(f"{server.url}/ok").status_code == 200
    assert http.get(f"{server.url}/ok").status_code == 200

    assert [(s.connection, s.path) for s in server.seen] == [
        (1, "/ok"),
        (1, "/close-idle"),
        (2, "/ok"),
        (2, "/ok"),
    ]
    assert server.seen[1].body == b'{"n": 1}'
    assert server.seen[1].headers["content-type"] == "application/json"
    assert server.seen[0].headers["user-agent"] == http.USER_AGENT


def test_a_connection_close_answer_is_not_reused(server):
    assert http.get(f"{server.url}/close-after").content == b"bye"
    http.get(f"{server.url}/ok")
    assert [s.connection for s in server.seen] == [1, 2]


def test_chunked_and_compressed_answers_are_read_whole(server):
    assert http.get(f"{server.url}/chunked").content == b"abc" * 10 + b"def" * 10
    assert http.get(f"{server.url}/gzip").content == b"x" * 500
    assert len({s.connection for s in server.seen}) == 1  # both read to the end: reused


@pytest.mark.parametrize("path", ["/declared-big", "/streamed-big", "/bomb"])
def test_an_answer_over_the_cap_is_refused_and_the_next_call_still_works(server, path):
    with pytest.raises(http.HTTPTooLarge):
        http.get(f"{server.url}{path}", max_bytes=1000)
    assert http.get(f"{server.url}/ok").json() == {"ok": True}
    # The unread answer left its connection unusable: the next call had a new one.
    assert [s.connection for s in server.seen] == [1, 2]


def test_a_redirect_after_a_post_is_followed_with_a_get_and_a_307_keeps_the_body(server):
    after_302 = http.post(f"{server.url}/see-other", json={"a": 1})
    after_307 = http.post(f"{server.url}/temporary", json={"b": 2})

    assert after_302.json() == after_307.json() == {"ok": True}
    assert [(s.method, s.path, s.body) for s in server.seen] == [
        ("POST", "/see-other", b'{"a": 1}'),
        ("GET", "/ok", b""),
        ("POST", "/temporary", b'{"b": 2}'),
        ("POST", "/ok", b'{"b": 2}'),
    ]


def test_a_server_that_hangs_up_mid_answer_is_a_connection_error(server):
    with pytest.raises(http.HTTPConnectionError):
        http.get(f"{server.url}/hang-up")
    assert http.get(f"{server.url}/ok").status_code == 200


def test_a_url_that_is_not_http_is_an_error_before_any_connection():
    with pytest.raises(http.HTTPError, match="not an http"):
        http.get("ftp://127.0.0.1/file")


def test_https_to_a_server_without_tls_is_a_connection_error(server):
    with pytest.raises(http.HTTPConnectionError):
        http.get(server.url.replace("http://", "https://") + "/ok", timeout=2)
