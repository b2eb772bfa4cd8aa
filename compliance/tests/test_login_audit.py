"""Logins in the audit log: successes, failures and lockouts, never a password."""

from __future__ import annotations

import json
import logging

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from compliance import audit
from compliance.models import AuditLog
from tests.factories import MembershipFactory

PASSWORD = "senha-forte-123"
TYPED = "Minha-Senha-Secreta-1999"  # a wrong password that must appear nowhere
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def _direct_bind(settings):
    settings.NUM_PROXIES = 0
    settings.CLIENT_IP_HEADER = ""


def api_login(username: str, password: str):
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def everything_stored() -> str:
    return json.dumps(list(AuditLog.objects.values()), default=str)


def test_an_api_login_is_recorded_like_an_admin_login(owner, tenant):
    assert api_login(owner.username, PASSWORD).status_code == 200
    entry = AuditLog.objects.get(action="login")
    assert (entry.tenant_id, entry.actor_user_id) == (tenant.pk, owner.pk)
    assert entry.changes["path"] == "/api/auth/token/"
    assert entry.ip == "127.0.0.1"


def test_a_wrong_password_is_recorded_for_the_accounts_tenant_without_it(
    client, owner, tenant, caplog
):
    caplog.set_level(logging.INFO)
    client.post("/admin/login/", {"username": owner.username, "password": TYPED})

    entry = AuditLog.objects.get(action="login.failed")
    assert entry.tenant_id == tenant.pk
    assert (entry.object_type, entry.object_id) == ("auth.user", str(owner.pk))
    assert entry.actor_type == "system" and entry.actor_user_id is None
    assert entry.changes["username"] == audit.mask_identity(owner.username)
    assert owner.username not in everything_stored()
    assert TYPED not in everything_stored()
    assert TYPED not in caplog.text


def test_an_unknown_username_is_recorded_for_no_tenant_and_masked(db):
    api_login("maria.silva@padaria.com.br", TYPED)
    entry = AuditLog.objects.get(action="login.failed")
    assert entry.tenant_id is None and entry.object_id == ""
    assert entry.changes["username"] == "m***@p***.br"
    assert "maria.silva" not in everything_stored()


def test_a_lockout_is_recorded_once_and_the_refused_tries_are_not(owner, tenant):
    for _ in range(LIMIT + 5):
        api_login(owner.username, TYPED)
    api_login(owner.username, PASSWORD)  # refused: locked

    assert AuditLog.objects.filter(action="login.failed").count() == LIMIT
    locked = AuditLog.objects.get(action="login.locked")
    assert locked.tenant_id == tenant.pk
    assert locked.changes["failures"] == LIMIT
    assert locked.ip == "127.0.0.1"
    assert TYPED not in everything_stored()
    assert not AuditLog.objects.filter(action="login").exists()


def test_a_user_of_two_tenants_sees_the_failure_in_both(owner, tenant, other_tenant):
    MembershipFactory(tenant=other_tenant, user=owner)
    api_login(owner.username, TYPED)
    tenants = set(AuditLog.objects.filter(action="login.failed").values_list("tenant", flat=True))
    assert tenants == {tenant.pk, other_tenant.pk}


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("maria@padaria.com", "m***@p***.com"),
        ("admin", "ad***"),
        ("Senha@123", "S***@1***"),
        ("", ""),
    ],
)
def test_mask_identity(typed, kept):
    assert audit.mask_identity(typed) == kept
