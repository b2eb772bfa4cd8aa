"""Provisioning: a tenant with owner, subscription and first API key, all or nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from rest_framework.test import APIClient

from billing import services
from billing.models import Membership, Plan, Subscription, Tenant, TenantAPIKey
from chatbots import bots
from tests.factories import UserFactory

User = get_user_model()


@pytest.fixture
def trial_plan(db):
    return Plan.objects.create(name="Profissional", max_chatbots=1, trial_days=14)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root@plataforma.com", is_superuser=True)


def payload(**overrides) -> dict:
    return {
        "name": "Pizzaria Bella",
        "slug": "pizzaria-bella",
        "plan": "Profissional",
        "owner_email": "dono@pizzariabella.com.br",
        **overrides,
    }


def counts() -> tuple[int, int, int, int, int]:
    return (
        Tenant.objects.count(),
        User.objects.filter(email="dono@pizzariabella.com.br").count(),
        Membership.objects.count(),
        Subscription.objects.count(),
        TenantAPIKey.objects.count(),
    )


def test_a_superuser_provisions_a_tenant_whose_key_works_at_once(superuser, trial_plan):
    api = APIClient()
    api.force_authenticate(superuser)

    response = api.post("/api/billing/tenants/", payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Cache-Control"] == "no-store"
    tenant = Tenant.objects.get(slug="pizzaria-bella")
    assert body["subscription_status"] == "trialing" and body["trial_end"]
    assert Subscription.objects.get(tenant=tenant).plan == trial_plan
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == Membership.Role.OWNER
    assert membership.user.check_password(body["owner_password"])
    # The key is shown once, stored hashed, and works for this tenant.
    key = body["api_key"]
    assert not TenantAPIKey.objects.filter(hashed_key=key).exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/analytics/summary/").status_code == 200


def test_only_superusers_may_provision(owner, key_client, trial_plan):
    staff = APIClient()
    staff.force_authenticate(owner)
    assert staff.post("/api/billing/tenants/", payload(), format="json").status_code == 403
    assert key_client.post("/api/billing/tenants/", payload(), format="json").status_code == 403
    assert APIClient().post("/api/billing/tenants/", payload(), format="json").status_code in (
        401,
        403,
    )
    assert not Tenant.objects.filter(slug="pizzaria-bella").exists()


def test_provisioning_creates_everything_or_nothing(superuser, trial_plan, monkeypatch):
    before = counts()

    def fail(**kwargs):
        raise RuntimeError("key store unavailable")

    monkeypatch.setattr(services, "api_key_create", fail)  # the last step fails
    with pytest.raises(RuntimeError):
        services.tenant_provision(
            name="Pizzaria Bella",
            slug="pizzaria-bella",
            plan_name="Profissional",
            owner_email="dono@pizzariabella.com.br",
        )

    assert counts() == before


def test_a_taken_slug_or_an_unknown_plan_is_refused_naming_the_field(superuser, trial_plan, tenant):
    api = APIClient()
    api.force_authenticate(superuser)

    taken = api.post("/api/billing/tenants/", payload(slug=tenant.slug), format="json")
    unknown = api.post("/api/billing/tenants/", payload(plan="Ouro"), format="json")

    assert taken.status_code == 400 and "slug" in taken.json()
    assert unknown.status_code == 400
    assert "Profissional" in str(unknown.json()["plan"])  # names the plans that exist


def test_the_admin_page_provisions_and_shows_the_key_once(client, superuser, trial_plan):
    client.force_login(superuser)
    form = client.get("/admin/billing/tenant/provision/")
    assert form.status_code == 200

    response = client.post(
        "/admin/billing/tenant/provision/",
        {
            "name": "Clínica Vida",
            "slug": "clinica-vida",
            "plan": trial_plan.pk,
            "owner_email": "dona@clinicavida.com.br",
            "time_zone": "America/Sao_Paulo",
            "domain": "",
        },
    )

    assert response.status_code == 200
    key = response.context["result"].plain_key
    assert key in response.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert api.get("/api/clientes/").status_code == 200
    # The key is not in the key list afterwards, only its prefix.
    listing = client.get("/admin/billing/tenantapikey/").content.decode()
    assert key not in listing


def test_staff_cannot_open_the_provisioning_page(client, owner):
    client.force_login(owner)
    assert client.get("/admin/billing/tenant/provision/").status_code == 404


def test_create_tenant_uses_the_same_service_and_prints_the_key_once(trial_plan):
    out = StringIO()
    args = ["create_tenant", "--slug", "bar", "--name", "Bar do Zé", "--plan", "Profissional"]
    call_command(*args, "--owner-email", "ze@bar.com.br", stdout=out)
    first = out.getvalue()
    out = StringIO()
    call_command(*args, stdout=out)

    key = first.strip().splitlines()[-1]
    assert TenantAPIKey.objects.get(tenant__slug="bar").is_valid(key)
    assert key not in out.getvalue()
    assert Subscription.objects.get(tenant__slug="bar").status == "trialing"


def test_the_plan_limit_on_chatbots_names_the_limit(superuser, trial_plan):
    result = services.tenant_provision(
        name="Pizzaria Bella",
        slug="pizzaria-bella",
        plan_name="Profissional",
        owner_email="dono@pizzariabella.com.br",
    )
    bots.chatbot_create(tenant=result.tenant, name="Principal", provider="stub")

    with pytest.raises(ValidationError) as exc_info:
        bots.chatbot_create(tenant=result.tenant, name="Segundo", provider="stub")

    assert "Seu plano Profissional permite 1 chatbot(s)" in exc_info.value.messages[0]
