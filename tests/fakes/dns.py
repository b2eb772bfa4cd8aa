"""Names for the egress policy's one DNS lookup (config.egress.resolve), set by the test:

    def test_it_refuses_a_name_that_points_inward(fake_dns):
        fake_dns.add("evolution.example.com", "10.0.0.8")
        fake_dns.add("rebind.example.com", "8.8.8.8", then="127.0.0.1")

Every lookup is recorded (`lookups`). Address literals resolve as the system resolver
reads them without asking a DNS server ("2130706433" is 127.0.0.1), "localhost" is
127.0.0.1 (what pytest-httpserver's URLs name), and any other name does not resolve
(OSError). The root conftest installs it for every test, so none depends on the real DNS.
"""

from __future__ import annotations

import socket
from collections import deque

import pytest

from config import egress


class FakeDNS:
    def __init__(self) -> None:
        self.names: dict[str, deque[list[str]]] = {"localhost": deque([["127.0.0.1"]])}
        self.lookups: list[str] = []

    def add(self, name: str, *addresses: str, then: str | list[str] | None = None) -> None:
        """`name` resolves to `addresses`; with `then`, the NEXT lookups answer `then`."""
        answers = deque([list(addresses)])
        if then is not None:
            answers.append([then] if isinstance(then, str) else list(then))
        self.names[name.lower()] = answers

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        try:
            infos = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )
            return list(dict.fromkeys(str(info[4][0]) for info in infos))
        except OSError:
            pass
        answers = self.names.get(host.lower())
        if not answers:
            raise OSError(f"{host}: name not known (tests/fakes/dns.py)")
        return answers.popleft() if len(answers) > 1 else answers[0]


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(egress, "resolve", fake.resolve)
    return fake
