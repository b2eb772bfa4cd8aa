"""create_tenant, create_api_key and seed_demo, run the way an operator runs them."""

from __future__ import annotations

import sys
import types
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from billing.models import Membership, Plan, Subscription, Tenant, TenantAPIKey
from chatbots.models import Chatbot
from clientes.models import Cliente


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_create_tenant_is_idempotent(db):
    args = ["create_tenant", "--slug", "pizzaria", "--name", "Pizzaria Bella"]
    first = run(*args, "--owner-email", "dono@pizzaria.com.br")
    second = run(*args, "--owner-email", "dono@pizzaria.com.br")
    assert "created" in first
    assert "already existed" in second
    tenant = Tenant.objects.get(slug="pizzaria")
    assert Tenant.objects.filter(slug="pizzaria").count() == 1
    assert Subscription.objects.filter(tenant=tenant).count() == 1
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == Membership.Role.OWNER
    assert membership.user.email == "dono@pizzaria.com.br"
    assert membership.user.is_staff
    # The password is printed only when the user is created.
    assert "password" in first
    assert "password" not in second


def test_create_tenant_refuses_an_unknown_plan(db):
    with pytest.raises(CommandError, match="Unknown plan 'Ouro'"):
        run("create_tenant", "--slug", "x", "--name", "X", "--plan", "Ouro")
    assert not Tenant.objects.exists()


def test_create_api_key_prints_a_key_that_authenticates(tenant, cliente):
    output = run("create_api_key", "--tenant", tenant.slug, "--name", "erp")
    key = output.strip().splitlines()[-1]
    assert TenantAPIKey.objects.get(tenant=tenant).hashed_key not in output
    response = APIClient().get("/api/clientes/", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [cliente.pk]


def test_create_api_key_refuses_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant with slug 'nada'"):
        run("create_api_key", "--tenant", "nada", "--name", "erp")
    assert not TenantAPIKey.objects.exists()


@pytest.fixture
def no_demo_password(settings):
    settings.DEMO_ADMIN_PASSWORD = ""


def demo_counts() -> dict:
    return {
        "plans": Plan.objects.count(),
        "tenants": Tenant.objects.filter(slug="demo").count(),
        "users": get_user_model().objects.filter(username="admin").count(),
        "memberships": Membership.objects.filter(tenant__slug="demo").count(),
        "clientes": Cliente.objects.filter(tenant__slug="demo").count(),
        "chatbots": Chatbot.objects.filter(tenant__slug="demo").count(),
    }


def test_seed_demo_is_idempotent_and_keeps_the_generated_password(db, no_demo_password):
    first = run("seed_demo")
    counts = demo_counts()
    password = first.split("keep it): ", 1)[1].split()[0]
    second = run("seed_demo")

    assert demo_counts() == counts
    assert counts["tenants"] == counts["users"] == counts["memberships"] == 1
    assert counts["clientes"] >= 3
    assert "already exists" in second
    assert password not in second
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.name == "Pizzaria Demo"
    assert Membership.objects.get(tenant=tenant, user=admin).role == Membership.Role.OWNER
    assert set(Plan.objects.values_list("name", flat=True)) >= {
        "Básico",
        "Profissional",
        "Empresarial",
    }
    assert Plan.objects.get(name="Profissional").ai_enabled
    assert Subscription.objects.get(tenant=tenant).plan.name == "Profissional"
    # Phones went through the one normalizer.
    assert all(
        t.isdigit() and t.startswith("55")
        for t in Cliente.objects.filter(tenant=tenant).values_list("telefone", flat=True)
    )


def test_seed_demo_takes_the_password_from_demo_admin_password(db, settings):
    settings.DEMO_ADMIN_PASSWORD = "senha-da-demo-123"
    output = run("seed_demo")
    assert "senha-da-demo-123" not in output
    assert get_user_model().objects.get(username="admin").check_password("senha-da-demo-123")
    settings.DEMO_ADMIN_PASSWORD = "outra-senha-456"
    run("seed_demo")
    assert get_user_model().objects.get(username="admin").check_password("outra-senha-456")


def test_seed_demo_installs_the_demo_bot_when_chatbots_offers_one(
    db, no_demo_password, monkeypatch
):
    def install_demo(tenant):
        bot = Chatbot.objects.get_or_create(tenant=tenant, name="Bot da demo")[0]
        return [types.SimpleNamespace(chatbot=bot, flow="menu", try_typing=["oi"])]

    monkeypatch.setitem(
        sys.modules, "chatbots.starter_flows", types.SimpleNamespace(install_demo=install_demo)
    )
    output = run("seed_demo")
    run("seed_demo")
    assert "Bot da demo" in output
    assert list(Chatbot.objects.values_list("tenant__slug", "name")) == [("demo", "Bot da demo")]


def test_seed_demo_runs_without_a_demo_bot(db, no_demo_password, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "chatbots.starter_flows", types.ModuleType("chatbots.starter_flows")
    )
    run("seed_demo")
    assert Tenant.objects.filter(slug="demo").exists()
    assert not Chatbot.objects.exists()
