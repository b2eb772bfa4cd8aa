"""The client's address: one rule (NUM_PROXIES, CLIENT_IP_HEADER) that no client can steer."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from config.client_ip import client_ip, client_ip_from_meta, client_limit_key

SOCKET = "10.0.0.5"  # the proxy's (or, on a direct bind, the client's) own connection


def meta(xff: str | None = None, **extra: str) -> dict[str, str]:
    out = {"REMOTE_ADDR": SOCKET, **extra}
    if xff is not None:
        out["HTTP_X_FORWARDED_FOR"] = xff
    return out


@pytest.fixture(autouse=True)
def _no_edge_header(settings):
    settings.CLIENT_IP_HEADER = ""


def test_a_direct_bind_ignores_x_forwarded_for(settings):
    settings.NUM_PROXIES = 0
    assert client_ip_from_meta(meta("203.0.113.9")) == SOCKET


def test_behind_one_proxy_it_takes_the_address_the_proxy_appended(settings):
    settings.NUM_PROXIES = 1
    # nginx's $proxy_add_x_forwarded_for: whatever the client sent, then the address it saw.
    assert client_ip_from_meta(meta("198.51.100.1, 203.0.113.9")) == "203.0.113.9"


def test_a_client_cannot_spoof_by_prepending_addresses(settings):
    settings.NUM_PROXIES = 1
    forged = ", ".join(f"198.51.100.{i}" for i in range(1, 40))
    assert client_ip_from_meta(meta(f"{forged}, 203.0.113.9")) == "203.0.113.9"


def test_two_proxies_take_the_second_address_from_the_right(settings):
    settings.NUM_PROXIES = 2
    assert client_ip_from_meta(meta("1.2.3.4, 203.0.113.9, 172.16.0.2")) == "203.0.113.9"


def test_a_request_that_skipped_the_proxies_is_the_socket_address(settings):
    settings.NUM_PROXIES = 2
    assert client_ip_from_meta(meta("203.0.113.9")) == SOCKET
    assert client_ip_from_meta(meta()) == SOCKET


def test_garbage_in_the_header_is_not_an_address(settings):
    settings.NUM_PROXIES = 1
    assert client_ip_from_meta(meta("203.0.113.9, not-an-ip")) == ""


def test_ports_and_ipv4_mapped_addresses_are_normalised(settings):
    settings.NUM_PROXIES = 1
    assert client_ip_from_meta(meta("203.0.113.9:51234")) == "203.0.113.9"
    assert client_ip_from_meta(meta("[2001:db8::1]:443")) == "2001:db8::1"
    assert client_ip_from_meta(meta("::ffff:203.0.113.9")) == "203.0.113.9"


def test_an_edge_header_wins_when_configured(settings):
    settings.NUM_PROXIES = 1
    settings.CLIENT_IP_HEADER = "CF-Connecting-IP"
    assert (
        client_ip_from_meta(meta("6.6.6.6, 172.70.1.1", HTTP_CF_CONNECTING_IP="203.0.113.9"))
        == "203.0.113.9"
    )
    # Without it (a request from inside the platform), the X-Forwarded-For rule.
    assert client_ip_from_meta(meta("6.6.6.6, 172.70.1.1")) == "172.70.1.1"


def test_limits_count_an_ipv6_slash_64_as_one_address(settings):
    settings.NUM_PROXIES = 0
    factory = RequestFactory()
    one = factory.get("/", REMOTE_ADDR="2001:db8:1:2::a")
    other = factory.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::1")
    assert client_ip(one) == "2001:db8:1:2::a"  # the audit log keeps the exact address
    assert client_limit_key(one) == client_limit_key(other) == "2001:db8:1:2::"
    assert client_limit_key(factory.get("/", REMOTE_ADDR="203.0.113.9")) == "203.0.113.9"


PROBE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.NUM_PROXIES, settings.CLIENT_IP_HEADER]))"
)


@pytest.mark.parametrize(
    "where, expected",
    [
        ("embedded", [0, ""]),  # runserver/gunicorn takes the connection itself
        ("nginx", [1, ""]),  # deploy/nginx, Docker Compose behind it
        ("render", [1, "CF-Connecting-IP"]),
    ],
)
def test_the_defaults_fit_where_it_runs(tmp_path, where, expected):
    import json

    from config.tests.test_settings_boot import boot, production_env

    env = {} if where == "embedded" else production_env()
    if where == "render":
        env["RENDER_EXTERNAL_HOSTNAME"] = "chatbot.onrender.com"
    result = boot(tmp_path, "-c", PROBE, **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
