"""A file server on 127.0.0.1 for links that messages carry (catalog photos, PDFs):

    def test_it_uploads(fake_files, settings):
        url = fake_files.add("foto.jpg", b"...", "image/jpeg")

`add` returns the URL; `/big/<n>` answers n bytes (for size limits) and anything else 404.
Downloads from private addresses are refused by default (config.http.download), so the
fixture opts in (`private_egress`) for the test that uses it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeFiles:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path.startswith("/big/"):
                    content, ctype = b"x" * int(self.path.rsplit("/", 1)[-1]), "video/mp4"
                elif self.path in fake.files:
                    content, ctype = fake.files[self.path]
                else:
                    content, ctype = b"not found", "text/plain"
                    self.send_response(404)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format, *args) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, name: str, content: bytes, content_type: str) -> str:
        self.files[f"/files/{name}"] = (content, content_type)
        return f"{self.url}/files/{name}"


@pytest.fixture(scope="session")
def _fake_files_server():
    server = FakeFiles()
    yield server
    server._server.shutdown()


@pytest.fixture
def fake_files(_fake_files_server, private_egress) -> FakeFiles:
    _fake_files_server.files.clear()
    return _fake_files_server
