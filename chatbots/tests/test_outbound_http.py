"""config.http, the one outbound-HTTP module: timeouts, error mapping, no secrets in logs.
The egress policy of tenant URLs is tested in config/tests/test_egress.py."""

from __future__ import annotations

import logging

import pytest

from config import http
from tests.fakes.graph import unused_url


def test_it_returns_error_answers_for_the_caller_to_read(fake_graph):
    response = http.post(f"{fake_graph.url}/v23.0/1065/messages", json={"to": "1"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190
    with pytest.raises(http.HTTPStatusError) as caught:
        response.raise_for_status()
    assert caught.value.retryable is False


def test_a_slow_server_raises_a_timeout_after_the_configured_seconds(fake_graph, settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.2
    fake_graph.delay_next(1.0)

    with pytest.raises(http.HTTPTimeout):
        http.post(f"{fake_graph.url}/v23.0/1065/messages", headers={"Authorization": "Bearer x"})


def test_a_refused_connection_raises_a_connection_error():
    with pytest.raises(http.HTTPConnectionError):
        http.get(unused_url())


def test_the_log_line_carries_no_credentials(fake_graph, caplog):
    with caplog.at_level(logging.DEBUG, logger="config.http"):
        http.post(
            f"{fake_graph.url}/v23.0/1065/messages",
            params={"access_token": "SEGREDO-DA-URL"},
            headers={"Authorization": "Bearer SEGREDO-DO-HEADER"},
            json={"messaging_product": "whatsapp"},
        )

    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "/v23.0/1065/messages" in logged
    assert "SEGREDO" not in logged
    assert fake_graph.requests[0].headers["Authorization"] == "Bearer SEGREDO-DO-HEADER"


@pytest.fixture
def fresh_sessions():
    """Sessions are made once per thread; these tests change the environment they read."""
    http._local.__dict__.clear()
    yield
    http._local.__dict__.clear()


def test_credentials_in_a_netrc_file_are_never_added(
    fake_graph, fresh_sessions, tmp_path, monkeypatch
):
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login intruso password SEGREDO-DO-NETRC\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))

    http.post(f"{fake_graph.url}/v23.0/1065/messages", json={"to": "1"})

    assert "Authorization" not in fake_graph.requests[0].headers


def test_a_proxy_configured_in_the_environment_is_used(fake_graph, fresh_sessions, monkeypatch):
    # The fake answers whatever reaches it: as a proxy it gets the absolute URL.
    monkeypatch.setenv("HTTP_PROXY", fake_graph.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    http.post("http://graph.example.invalid/v23.0/1065/messages", json={"to": "1"})

    assert fake_graph.requests[0].path == "http://graph.example.invalid/v23.0/1065/messages"


def test_a_download_from_a_private_address_is_refused_before_connecting(fake_graph, settings):
    settings.EGRESS_ALLOW_PRIVATE = False
    for url in (
        f"{fake_graph.url}/x.jpg",
        "http://10.0.0.8/x.jpg",
        "http://[::1]:9/x.jpg",
        "http://[64:ff9b::7f00:1]:9/x.jpg",  # NAT64 form of 127.0.0.1
        "http://[2002:a00:8::]:9/x.jpg",  # 6to4 form of 10.0.0.8
    ):
        with pytest.raises(http.HTTPRefused):
            http.download(url, max_bytes=1000)
    assert fake_graph.requests == []
    with pytest.raises(http.HTTPRefused):
        http.download("file:///etc/passwd", max_bytes=1000)


def test_a_download_stops_at_the_size_limit_and_does_not_follow_redirects(fake_files):
    ok = http.download(fake_files.add("a.png", b"p" * 100, "image/png"), max_bytes=100)
    assert (ok.content, ok.content_type, ok.filename) == (b"p" * 100, "image/png", "a.png")
    with pytest.raises(http.HTTPRefused):
        http.download(f"{fake_files.url}/big/101", max_bytes=100)
    with pytest.raises(http.HTTPStatusError):
        http.download(f"{fake_files.url}/files/missing", max_bytes=100)


def test_calls_to_one_host_reuse_one_kept_alive_connection(fake_graph):
    for n in range(4):
        response = http.post(f"{fake_graph.url}/v23.0/1065/messages", json={"to": str(n)})
        assert response.status_code == 401

    assert [r.json["to"] for r in fake_graph.requests] == ["0", "1", "2", "3"]
    assert len({r.connection for r in fake_graph.requests}) == 1


def test_query_parameters_and_the_json_body_arrive_as_sent(fake_graph):
    http.get(f"{fake_graph.url}/v23.0/1065/message_templates?limit=5", params={"after": "X Y"})
    http.post(f"{fake_graph.url}/v23.0/1065/messages", json={"texto": "pão de queijo"})

    first, second = fake_graph.requests
    assert first.query == {"limit": ["5"], "after": ["X Y"]}
    assert second.json == {"texto": "pão de queijo"}
    assert second.headers["Content-Type"] == "application/json"
    assert second.headers["User-Agent"] == http.USER_AGENT
