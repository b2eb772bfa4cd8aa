"""TenantScopedAdmin: choices, roles per tenant, and the billing models' own admin pages."""

from __future__ import annotations

import pytest
from django.contrib.admin import AdminSite
from django.test import RequestFactory

from billing.admin_tenancy import TenantScopedAdmin
from billing.models import Membership
from billing.services import api_key_create
from chatbots.models import Chatbot, Conversation
from clientes.models import Cliente
from tests.factories import ClienteFactory, MembershipFactory, UserFactory


class ConversationAdmin(TenantScopedAdmin):
    """A throwaway admin on a model with foreign keys to other tenant-owned rows."""

    fields = ["tenant", "chatbot", "cliente", "status"]


def admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


@pytest.fixture
def conversation_admin():
    return ConversationAdmin(Conversation, AdminSite())


@pytest.fixture
def two_tenants(tenant, other_tenant):
    """Rows of both tenants: a bot and a customer each."""
    return {
        t.slug: (Chatbot.objects.create(tenant=t, name=f"Bot {t.slug}"), ClienteFactory(tenant=t))
        for t in (tenant, other_tenant)
    }


def test_foreign_key_choices_offer_only_the_users_tenant(
    conversation_admin, owner, tenant, two_tenants
):
    form = conversation_admin.get_form(admin_request(owner))
    bot, cliente = two_tenants["padaria"]
    assert list(form.base_fields["tenant"].queryset) == [tenant]
    assert list(form.base_fields["chatbot"].queryset) == [bot]
    assert list(form.base_fields["cliente"].queryset) == [cliente]


def test_a_superuser_gets_every_choice(conversation_admin, two_tenants):
    form = conversation_admin.get_form(admin_request(UserFactory(is_superuser=True)))
    assert form.base_fields["cliente"].queryset.count() == 2


def test_a_user_of_two_tenants_cannot_mix_their_rows(
    conversation_admin, tenant, other_tenant, two_tenants
):
    user = MembershipFactory(tenant=tenant).user
    MembershipFactory(tenant=other_tenant, user=user)
    form_class = conversation_admin.get_form(admin_request(user))
    bot, _ = two_tenants["padaria"]
    _, their_cliente = two_tenants["clinica"]
    form = form_class(
        data={"tenant": tenant.pk, "chatbot": bot.pk, "cliente": their_cliente.pk, "status": "bot"}
    )
    assert not form.is_valid()
    assert "cliente" in form.errors


def test_roles_count_per_tenant(conversation_admin, tenant, other_tenant, two_tenants):
    """An owner of one tenant who is an agent in another may not delete or add there."""
    user = MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user
    MembershipFactory(tenant=other_tenant, user=user, role=Membership.Role.AGENT)
    request = admin_request(user)
    mine = Conversation.objects.create(
        tenant=tenant, chatbot=two_tenants["padaria"][0], cliente=two_tenants["padaria"][1]
    )
    theirs = Conversation.objects.create(
        tenant=other_tenant, chatbot=two_tenants["clinica"][0], cliente=two_tenants["clinica"][1]
    )
    assert conversation_admin.has_delete_permission(request, mine)
    assert not conversation_admin.has_delete_permission(request, theirs)
    assert not conversation_admin.has_change_permission(request, theirs)
    assert conversation_admin.has_view_permission(request, theirs)
    form = conversation_admin.get_form(request)
    assert list(form.base_fields["tenant"].queryset) == [tenant]


def test_delete_selected_keeps_rows_where_the_user_is_only_an_agent(client, tenant, other_tenant):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user
    MembershipFactory(tenant=other_tenant, user=user, role=Membership.Role.AGENT)
    theirs = ClienteFactory(tenant=other_tenant)
    client.force_login(user)
    client.post(
        "/admin/clientes/cliente/",
        {"action": "delete_selected", "_selected_action": [theirs.pk], "post": "yes"},
    )
    assert Cliente.objects.filter(pk=theirs.pk).exists()


def test_staff_see_their_api_keys_only(client, owner, tenant, other_tenant):
    mine, _ = api_key_create(tenant=tenant, name="minha integração")
    theirs, _ = api_key_create(tenant=other_tenant, name="integração alheia")
    client.force_login(owner)
    response = client.get("/admin/billing/tenantapikey/")
    assert response.status_code == 200
    assert {k.pk for k in response.context["cl"].result_list} == {mine.pk}
    response = client.get(f"/admin/billing/tenantapikey/{theirs.pk}/change/", follow=True)
    assert "integração alheia" not in response.content.decode()


def test_staff_see_their_own_tenant_read_only(client, owner, tenant, other_tenant):
    client.force_login(owner)
    response = client.get("/admin/billing/tenant/")
    assert {t.pk for t in response.context["cl"].result_list} == {tenant.pk}
    response = client.post(
        f"/admin/billing/tenant/{tenant.pk}/change/",
        {"name": "Renomeada", "slug": "padaria", "time_zone": "America/Sao_Paulo"},
    )
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Padaria Pão Quente"
    response = client.get(f"/admin/billing/tenant/{other_tenant.pk}/change/", follow=True)
    assert "Clínica Sorriso" not in response.content.decode()


def test_staff_cannot_see_plans_or_subscriptions(client, owner):
    client.force_login(owner)
    assert client.get("/admin/billing/plan/").status_code == 403
    assert client.get("/admin/billing/subscription/").status_code == 403
