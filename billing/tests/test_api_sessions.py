"""API sessions: refresh tokens rotate, logout and a password change revoke them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, UserFactory

TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"
PASSWORD = "senha-forte-123"
NEW_PASSWORD = "outra-senha-bem-forte-456"
PROTECTED = "/api/clientes/"


@pytest.fixture
def staff(tenant):
    return MembershipFactory(tenant=tenant, role="owner").user


def log_in(user, password: str = PASSWORD) -> dict:
    response = APIClient().post(
        TOKEN, {"username": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def get_with(access: str):
    return APIClient().get(PROTECTED, HTTP_AUTHORIZATION=f"Bearer {access}")


def test_a_refresh_answers_a_new_refresh_token_and_the_old_one_stops_working(staff):
    first = log_in(staff)["refresh"]
    response = refresh(first)
    assert response.status_code == 200
    second = response.json()["refresh"]
    assert second != first
    assert get_with(response.json()["access"]).status_code == 200

    assert refresh(first).status_code == 401  # used once: a stolen copy is worth nothing
    assert refresh(second).status_code == 200


def test_logout_revokes_the_refresh_token(staff):
    tokens = log_in(staff)
    response = APIClient().post(LOGOUT, {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    assert refresh(tokens["refresh"]).status_code == 401


def test_logout_refuses_something_that_is_not_a_refresh_token(staff):
    tokens = log_in(staff)
    response = APIClient().post(LOGOUT, {"refresh": tokens["access"]}, format="json")
    assert response.status_code == 401


def change_in_code(user, superuser_client):
    user.set_password(NEW_PASSWORD)
    user.save()


def change_in_admin(user, superuser_client):
    response = superuser_client.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response["Location"] == f"/admin/auth/user/{user.pk}/change/"


def change_with_the_command(user, superuser_client):
    call_command("changepassword", user.username)


@pytest.fixture
def superuser_client(client, db):
    client.force_login(UserFactory(is_superuser=True))
    return client


@pytest.mark.parametrize(
    "change", [change_in_code, change_in_admin, change_with_the_command], ids=lambda f: f.__name__
)
def test_a_password_change_revokes_every_session_of_the_user(
    staff, tenant, superuser_client, monkeypatch, change
):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    phone, laptop = log_in(staff), log_in(staff)
    colleague = log_in(MembershipFactory(tenant=tenant).user)

    change(staff, superuser_client)

    assert refresh(phone["refresh"]).status_code == 401
    assert refresh(laptop["refresh"]).status_code == 401
    assert get_with(laptop["access"]).status_code == 401  # access tokens too, at once
    assert refresh(colleague["refresh"]).status_code == 200  # nobody else's
    assert get_with(log_in(staff, NEW_PASSWORD)["access"]).status_code == 200


def test_disabling_the_password_in_the_admin_revokes_the_sessions(staff, superuser_client):
    tokens = log_in(staff)
    response = superuser_client.post(
        f"/admin/auth/user/{staff.pk}/password/",
        {"usable_password": "false", "unset-password": "1"},
    )
    assert response["Location"] == f"/admin/auth/user/{staff.pk}/change/"
    assert refresh(tokens["refresh"]).status_code == 401


def test_other_changes_to_the_user_keep_the_sessions(staff):
    tokens = log_in(staff)
    staff.first_name = "Ana"
    staff.save()
    assert refresh(tokens["refresh"]).status_code == 200


def test_a_deleted_users_refresh_token_is_refused(staff):
    tokens = log_in(staff)
    staff.delete()
    assert refresh(tokens["refresh"]).status_code == 401
