"""A TCP listener on loopback that must never be reached: the internal service a tenant's URL
tries to make our servers call (the SSRF tests).

    def test_it_never_connects(trap):
        ...call something with f"{trap.url}/x?x="...
        assert trap.connections() == 0

It never accepts on its own: a connection the kernel completed waits in the backlog, and
`connections()` counts them without blocking, so the count is exact once the call returned.
A call that did connect would wait for an answer that never comes: the fixture shortens
HTTP_TIMEOUT_SECONDS so such a failure is quick.
"""

from __future__ import annotations

import socket

import pytest


class Trap:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.host, self.port = host, self.sock.getsockname()[1]
        self._count = 0
        self._accepted: list[socket.socket] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def connections(self) -> int:
        while True:
            try:
                conn, _peer = self.sock.accept()
            except BlockingIOError:
                return self._count
            self._count += 1
            self._accepted.append(conn)

    def close(self) -> None:
        for conn in self._accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def trap(settings):
    settings.HTTP_TIMEOUT_SECONDS = 2
    listener = Trap()
    yield listener
    listener.close()
