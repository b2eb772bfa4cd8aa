"""The web's HTTP bridge (config/wsgi_bridge.py): what the WSGI app gets and what the client
gets back, on both paths (a small body read whole; a large or chunked one through a2wsgi)."""

from __future__ import annotations

import asyncio
import threading

from config.wsgi_bridge import BODY_IN_MEMORY, WSGIBridge


def _scope(method="POST", headers=(), path="/api/chatbots/webhook/"):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"a=1",
        "root_path": "",
        "headers": list(headers),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def _serve(app, scope, parts: list[bytes], *, disconnect=False):
    """Run one request through the bridge; the messages the server was asked to send."""
    sent: list[dict] = []
    incoming = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect:
        incoming = incoming[:-1] + [{"type": "http.disconnect"}]

    async def receive():
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    asyncio.run(WSGIBridge(app, workers=2)(scope, receive, send))
    return sent


class _Recorder:
    """A WSGI app that answers with what it read; records its thread and its close()."""

    def __init__(self, *, streaming=False, chunks=(b"ok",)):
        self.streaming, self.chunks = streaming, chunks
        self.seen: dict = {}
        self.closed_on = None

    def __call__(self, environ, start_response):
        self.seen = {
            "body": environ["wsgi.input"].read(),
            "length": environ.get("CONTENT_LENGTH"),
            "query": environ["QUERY_STRING"],
            "path": environ["PATH_INFO"],
            "remote": environ["REMOTE_ADDR"],
            "thread": threading.get_ident(),
        }
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", "1")])
        recorder = self

        class Body:
            streaming = recorder.streaming

            def __iter__(self):
                return iter(recorder.chunks)

            def close(self):
                recorder.closed_on = threading.get_ident()

        return Body()


def test_a_small_body_reaches_the_app_whole_and_the_answer_comes_back_whole():
    app = _Recorder(chunks=(b"he", b"llo"))
    body = b'{"entry": []}'
    sent = _serve(
        app,
        _scope(headers=[(b"content-length", str(len(body)).encode())]),
        [body[:5], body[5:]],
    )
    assert app.seen["body"] == body
    assert app.seen["length"] == str(len(body))
    assert (app.seen["query"], app.seen["path"], app.seen["remote"]) == (
        "a=1",
        "/api/chatbots/webhook/",
        "127.0.0.1",
    )
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 201
    assert (b"x-seen", b"1") in sent[0]["headers"]
    assert sent[1:] == [{"type": "http.response.body", "body": b"hello"}]
    # close() (Django's request_finished, which closes the thread's database connection)
    # ran on the thread that served the request.
    assert app.closed_on == app.seen["thread"] != threading.get_ident()


def test_a_get_without_a_body_is_served():
    app = _Recorder()
    sent = _serve(app, _scope(method="GET"), [b""])
    assert app.seen["body"] == b""
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_a_streaming_answer_goes_out_chunk_by_chunk_in_order():
    app = _Recorder(streaming=True, chunks=(b"a", b"", b"b", b"c"))
    sent = _serve(app, _scope(method="GET"), [b""])
    assert sent[0]["status"] == 201
    bodies = [m["body"] for m in sent[1:]]
    assert bodies == [b"a", b"b", b"c", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert app.closed_on == app.seen["thread"]


def test_a_large_or_chunked_body_still_reaches_the_app_through_a2wsgi():
    big = b"x" * (BODY_IN_MEMORY + 10)
    app = _Recorder()
    sent = _serve(
        app,
        _scope(headers=[(b"content-length", str(len(big)).encode())]),
        [big[:1000], big[1000:]],
    )
    assert app.seen["body"] == big
    assert sent[0]["status"] == 201
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"ok"

    chunked = _Recorder()
    _serve(chunked, _scope(headers=[(b"transfer-encoding", b"chunked")]), [b"ab", b"cd"])
    assert chunked.seen["body"] == b"abcd"


def test_a_client_that_leaves_before_its_body_is_sent_never_reaches_the_app():
    app = _Recorder()
    sent = _serve(
        app, _scope(headers=[(b"content-length", b"10")]), [b"12345", b""], disconnect=True
    )
    assert app.seen == {} and sent == []
