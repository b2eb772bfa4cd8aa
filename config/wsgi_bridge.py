"""HTTP from the ASGI server (uvicorn) to the WSGI app, crossing threads once a request.

a2wsgi's WSGIMiddleware runs the WSGI app on a thread pool and crosses between the event
loop and that thread for every read of the request body, for the response's start and for
each body chunk: four or five crossings (a wake-up of the loop and one of the thread each)
for a webhook, about a quarter of the web's CPU at full speed (benchmarks/RESULTS.md, the
webhook ingest section). Here a request whose body is announced by Content-Length and small
(BODY_IN_MEMORY) is read whole in the loop, the app runs on a pool thread, and a response
that does not stream (Django's HttpResponse: `streaming` is False) comes back whole as the
thread's result: one crossing. A streaming response (files, exports) sends its start and
each chunk from the thread as it comes, as a2wsgi does; a larger or chunked request body
goes through a2wsgi itself, read lazily, so an oversize upload is refused from its headers
(config.middleware.ContentLengthMiddleware) before it is read.

The environ is a2wsgi's (`build_environ`), so both paths give the app the same request.
WSGI: https://peps.python.org/pep-3333/ · ASGI HTTP: https://asgi.readthedocs.io/en/latest/specs/www.html
"""

from __future__ import annotations

import asyncio
import contextvars
import io

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi import build_environ

BODY_IN_MEMORY = 256 * 1024  # bytes; every webhook and API call is far below


class WSGIBridge:
    def __init__(self, app, *, workers: int) -> None:
        self.app = app
        self._a2wsgi = WSGIMiddleware(app, workers=workers)
        self.executor = self._a2wsgi.executor  # one pool for both paths

    async def __call__(self, scope, receive, send) -> None:
        length = _announced_length(scope) if scope["type"] == "http" else None
        if length is None or length > BODY_IN_MEMORY:
            return await self._a2wsgi(scope, receive, send)
        body = await _read_body(receive)
        if body is None:  # the client went away before sending it all
            return
        loop = asyncio.get_running_loop()
        exchange = _Exchange(loop, send)
        environ = build_environ(scope, io.BytesIO(body))
        context = contextvars.copy_context()
        messages = await loop.run_in_executor(
            self.executor, context.run, exchange.run, self.app, environ
        )
        for message in messages:
            await send(message)


def _announced_length(scope) -> int | None:
    """The body's length from Content-Length (0 without one); None for a chunked body or a
    header that is not a number (a2wsgi and Django deal with those)."""
    length = 0
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length


async def _read_body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Exchange:
    """One request's response, on the pool thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send) -> None:
        self.loop = loop
        self.send = send
        self.start: dict | None = None
        self.started = False  # the start went out already (a streaming response)

    def start_response(self, status: str, headers, exc_info=None):
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])  # PEP 3333: too late to change
        self.start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [
                (name.strip().encode("latin1").lower(), value.strip().encode("latin1"))
                for name, value in headers
            ],
        }
        return self.write

    def run(self, app, environ) -> list[dict]:
        """Call the app; the messages left for the loop to send (all of them, unless the
        response streamed: then only what is left after its chunks went out)."""
        iterable = app(environ, self.start_response)
        try:
            if self.start is None:
                raise RuntimeError("the WSGI app returned without calling start_response")
            if not self.started and getattr(iterable, "streaming", True) is False:
                body = b"".join(iterable)
                return [self.start, {"type": "http.response.body", "body": body}]
            for chunk in iterable:
                if chunk:
                    self.write(chunk)
            self._start_once()
            return [{"type": "http.response.body", "body": b""}]
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # Django's request_finished: on this thread, with its connection

    def write(self, chunk: bytes) -> None:
        """A chunk now (a streaming response, or PEP 3333's write callable)."""
        self._start_once()
        self._cross({"type": "http.response.body", "body": chunk, "more_body": True})

    def _start_once(self) -> None:
        if not self.started:
            self.started = True
            self._cross(self.start)

    def _cross(self, message: dict) -> None:
        asyncio.run_coroutine_threadsafe(self.send(message), self.loop).result()
