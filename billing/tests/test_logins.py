"""The login lockout of the admin and the API token endpoint (README "Login e bloqueio").

These run with the shipped settings (AXES_FAILURE_LIMIT, AXES_COOLOFF_TIME); each request
arrives as the shipped nginx would pass it on: whatever X-Forwarded-For the client forged,
then the address nginx saw.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import MembershipFactory

TOKEN = "/api/auth/token/"
ADMIN_LOGIN = "/admin/login/"
PASSWORD = "senha-forte-123"  # tests.factories.UserFactory
LIMIT = settings.AXES_FAILURE_LIMIT
COOL_OFF = settings.AXES_COOLOFF_TIME
ATTACKER = "203.0.113.66"
LOCKED_TEXT = "Muitas tentativas de login sem sucesso"


def via_nginx(client_address: str, forged: str | None = None) -> dict[str, str]:
    """The headers of a request as nginx passes it on ($proxy_add_x_forwarded_for)."""
    xff = f"{forged}, {client_address}" if forged else client_address
    return {"HTTP_X_FORWARDED_FOR": xff}


def api_login(username: str, password: str, **headers):
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", **headers
    )


def admin_login(client, username: str, password: str, **headers):
    return client.post(
        ADMIN_LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        **headers,
    )


@pytest.fixture(autouse=True)
def _shipped_proxy_setup(settings):
    settings.NUM_PROXIES = 1  # deploy/nginx
    settings.CLIENT_IP_HEADER = ""


@pytest.fixture
def staff(tenant):
    return MembershipFactory(tenant=tenant, role="owner").user


def test_the_limit_is_well_under_forty():
    assert 3 <= LIMIT < 20  # the 40 tries, and the API throttle's 20 a minute


@pytest.mark.parametrize("num_proxies", [0, 1])
def test_forty_wrong_passwords_with_forty_forged_headers_lock_the_api_out(
    settings, staff, num_proxies
):
    settings.NUM_PROXIES = num_proxies  # a direct bind, or behind nginx
    statuses = [
        api_login(
            staff.username, f"errada-{i}", **via_nginx(ATTACKER, forged=f"198.51.100.{i}")
        ).status_code
        for i in range(40)
    ]
    assert statuses[: LIMIT - 1] == [401] * (LIMIT - 1)
    assert set(statuses[LIMIT - 1 :]) == {429}

    cache.clear()  # forget the API throttle: what follows is the lockout alone
    response = api_login(staff.username, PASSWORD, **via_nginx(ATTACKER, forged="198.51.100.99"))
    assert response.status_code == 429
    body = response.json()
    assert "access" not in body and "refresh" not in body
    assert body["detail"].startswith(LOCKED_TEXT)
    assert "Tente novamente às" in body["detail"]
    assert body["code"] == "login_locked"
    assert 0 < int(response["Retry-After"]) <= COOL_OFF.total_seconds()


def test_forged_headers_do_not_spread_the_attempts_over_addresses(settings, tenant):
    """40 usernames, 40 forged addresses, one real address: locked by the address."""
    statuses = [
        api_login(
            f"alvo{i}@example.com", "x", **via_nginx(ATTACKER, forged=f"10.9.9.{i}")
        ).status_code
        for i in range(LIMIT + 2)
    ]
    assert statuses[-1] == 429
    someone = MembershipFactory(tenant=tenant).user
    assert api_login(someone.username, PASSWORD, **via_nginx(ATTACKER)).status_code == 429
    assert api_login(someone.username, PASSWORD, **via_nginx("203.0.113.1")).status_code == 200


def test_one_username_is_locked_out_whatever_the_address(staff, tenant):
    for i in range(LIMIT):
        api_login(staff.username, "errada", **via_nginx(f"198.51.100.{i}"))
    fresh_address = via_nginx("192.0.2.200")
    assert api_login(staff.username, PASSWORD, **fresh_address).status_code == 429
    # The username is locked, not those addresses: someone else logs in from them.
    other = MembershipFactory(tenant=tenant).user
    assert api_login(other.username, PASSWORD, **via_nginx("198.51.100.1")).status_code == 200


def test_the_username_is_matched_whatever_its_case_and_spaces(staff):
    for i in range(LIMIT):
        typed = f"  {staff.username.upper()} " if i % 2 else staff.username
        api_login(typed, "errada", **via_nginx(f"198.51.100.{i}"))
    assert api_login(staff.username, PASSWORD, **via_nginx("192.0.2.1")).status_code == 429


def test_the_lockout_says_when_it_ends_and_ends_then(staff):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            api_login(staff.username, "errada", **via_nginx(ATTACKER))
        response = api_login(staff.username, PASSWORD, **via_nginx(ATTACKER))
        ends = timezone.localtime(start + COOL_OFF)
        assert response.status_code == 429
        assert f"às {ends:%H:%M}" in response.json()["detail"]
        minutes = int(COOL_OFF.total_seconds() // 60)
        assert f"daqui a {minutes} minutos" in response.json()["detail"]
        assert response["Retry-After"] == str(int(COOL_OFF.total_seconds()))

    # Trying again while locked did not push the end further.
    with time_machine.travel(start + COOL_OFF - timedelta(seconds=30), tick=False):
        assert api_login(staff.username, PASSWORD, **via_nginx(ATTACKER)).status_code == 429
    with time_machine.travel(start + COOL_OFF + timedelta(seconds=1), tick=False):
        cache.clear()
        response = api_login(staff.username, PASSWORD, **via_nginx(ATTACKER))
        assert response.status_code == 200
        assert response.json()["access"]


def test_forty_forged_headers_lock_the_admin_login_out(client, staff):
    statuses = [
        admin_login(
            client, staff.username, "errada", **via_nginx(ATTACKER, forged=f"198.51.100.{i}")
        ).status_code
        for i in range(40)
    ]
    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert set(statuses[LIMIT - 1 :]) == {429}

    response = admin_login(client, staff.username, PASSWORD, **via_nginx(ATTACKER))
    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED_TEXT in page and "Tente novamente às" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_the_admin_page_answers_json_to_a_script(client, staff):
    for _ in range(LIMIT):
        admin_login(client, staff.username, "errada", **via_nginx(ATTACKER))
    response = admin_login(
        client, staff.username, PASSWORD, HTTP_ACCEPT="application/json", **via_nginx(ATTACKER)
    )
    assert response.status_code == 429
    assert response.json()["detail"].startswith(LOCKED_TEXT)


def test_the_admin_and_the_api_share_one_lockout(client, staff):
    for i in range(LIMIT):
        api_login(staff.username, "errada", **via_nginx(f"198.51.100.{i}"))
    response = admin_login(client, staff.username, PASSWORD, **via_nginx("192.0.2.7"))
    assert response.status_code == 429


def test_an_admin_login_after_the_cool_off_works(client, staff):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(LIMIT):
            admin_login(client, staff.username, "errada", **via_nginx(ATTACKER))
    with time_machine.travel(start + COOL_OFF + timedelta(seconds=1), tick=False):
        response = admin_login(client, staff.username, PASSWORD, **via_nginx(ATTACKER))
        assert response.status_code == 302
        assert client.session["_auth_user_id"] == str(staff.pk)


def test_a_few_mistakes_do_not_lock_anyone_out(client, staff):
    for _ in range(LIMIT - 2):
        admin_login(client, staff.username, "errada", **via_nginx(ATTACKER))
    assert admin_login(client, staff.username, PASSWORD, **via_nginx(ATTACKER)).status_code == 302
