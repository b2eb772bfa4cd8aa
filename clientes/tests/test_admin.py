"""The Cliente admin as a tenant's staff sees it: only their rows, only their tenant."""

from __future__ import annotations

import pytest

from billing.models import Membership
from clientes.models import Cliente
from tests.factories import ClienteFactory, MembershipFactory, UserFactory

CHANGELIST = "/admin/clientes/cliente/"


def change_url(cliente) -> str:
    return f"{CHANGELIST}{cliente.pk}/change/"


def delete_url(cliente) -> str:
    return f"{CHANGELIST}{cliente.pk}/delete/"


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def agent(client, tenant):
    user = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(user)
    return client


@pytest.fixture
def foreign(other_tenant):
    return ClienteFactory(tenant=other_tenant, nome="Joana Estrangeira", telefone="5521912345678")


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_the_changelist_shows_only_the_staff_users_tenant(staff, cliente, foreign):
    response = staff.get(CHANGELIST)
    assert listed(response) == {cliente.pk}
    assert "Joana Estrangeira" not in response.content.decode()


def test_the_changelist_search_does_not_reach_another_tenant(staff, cliente, foreign):
    assert listed(staff.get(CHANGELIST, {"q": "Joana"})) == set()


def test_another_tenants_change_form_is_not_shown(staff, foreign):
    response = staff.get(change_url(foreign), follow=True)
    # Django 5.2 answers a row outside the queryset with a redirect to the admin index and
    # a "does not exist" message: the row is not shown, and its existence is not confirmed
    # any differently from an id that was never used.
    assert response.redirect_chain == [("/admin/", 302)]
    assert "Joana Estrangeira" not in response.content.decode()
    assert "5521912345678" not in response.content.decode()


def test_another_tenants_history_is_not_shown(staff, foreign):
    response = staff.get(f"{CHANGELIST}{foreign.pk}/history/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert "Joana Estrangeira" not in response.content.decode()


def test_posting_a_change_to_another_tenants_row_changes_nothing(staff, tenant, foreign):
    staff.post(
        change_url(foreign),
        {"tenant": tenant.pk, "nome": "Roubado", "telefone": "11 97777-6666", "tags": "[]"},
    )
    foreign.refresh_from_db()
    assert (foreign.tenant_id, foreign.nome, foreign.telefone) != (tenant.pk, "Roubado", "")
    assert foreign.nome == "Joana Estrangeira"
    assert foreign.telefone == "5521912345678"


def test_posting_a_delete_of_another_tenants_row_deletes_nothing(staff, foreign):
    staff.post(delete_url(foreign), {"post": "yes"})
    assert Cliente.objects.filter(pk=foreign.pk).exists()


def test_delete_selected_skips_another_tenants_row(staff, cliente, foreign):
    staff.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [cliente.pk, foreign.pk], "post": "yes"},
    )
    assert not Cliente.objects.filter(pk=cliente.pk).exists()
    assert Cliente.objects.filter(pk=foreign.pk).exists()


def test_the_tenant_dropdown_offers_only_the_users_tenant(staff, tenant, other_tenant):
    response = staff.get(f"{CHANGELIST}add/")
    assert response.status_code == 200
    field = response.context["adminform"].form.fields["tenant"]
    assert list(field.queryset) == [tenant]
    assert field.initial == tenant
    assert "Clínica Sorriso" not in response.content.decode()


def test_it_refuses_adding_a_row_to_another_tenant(staff, other_tenant):
    response = staff.post(
        f"{CHANGELIST}add/", {"tenant": other_tenant.pk, "nome": "Intrusa", "tags": "[]"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["tenant"]
    assert not Cliente.objects.filter(nome="Intrusa").exists()


def test_adding_through_the_admin_normalizes_the_phone(staff, tenant):
    response = staff.post(
        f"{CHANGELIST}add/",
        {"tenant": tenant.pk, "nome": "Ana", "telefone": "(11) 98765-4321", "tags": '["vip"]'},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Cliente.objects.get(tenant=tenant, nome="Ana").telefone == "5511987654321"


def test_the_admin_refuses_a_duplicate_phone_with_a_form_error(staff, tenant, cliente):
    response = staff.post(
        f"{CHANGELIST}add/",
        {"tenant": tenant.pk, "nome": "Outra", "telefone": "(11) 8765-4321", "tags": "[]"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["telefone"]
    assert Cliente.objects.filter(tenant=tenant).count() == 1


def test_the_admin_refuses_an_invalid_phone_with_a_form_error(staff, tenant, cliente):
    response = staff.post(
        change_url(cliente), {"tenant": tenant.pk, "nome": "Maria", "telefone": "12", "tags": "[]"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["telefone"]
    cliente.refresh_from_db()
    assert cliente.telefone == "5511987654321"


def test_an_agent_can_view_but_not_delete(agent, cliente):
    assert listed(agent.get(CHANGELIST)) == {cliente.pk}
    assert agent.get(change_url(cliente)).status_code == 200
    assert agent.post(delete_url(cliente), {"post": "yes"}).status_code == 403
    agent.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [cliente.pk], "post": "yes"},
    )
    assert Cliente.objects.filter(pk=cliente.pk).exists()


def test_a_staff_user_without_a_membership_sees_no_clientes(client, cliente):
    client.force_login(UserFactory())
    assert client.get(CHANGELIST).status_code == 403


def test_a_superuser_sees_every_tenant(client, cliente, foreign, tenant, other_tenant):
    client.force_login(UserFactory(is_superuser=True))
    assert listed(client.get(CHANGELIST)) == {cliente.pk, foreign.pk}
    assert client.get(change_url(foreign)).status_code == 200
    field = client.get(f"{CHANGELIST}add/").context["adminform"].form.fields["tenant"]
    assert set(field.queryset) == {tenant, other_tenant}
