"""/api/clientes/: tenant isolation for API keys and staff JWTs, phones, filters, pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from billing.models import Membership
from billing.services import api_key_create
from clientes.models import Cliente
from tests.factories import ClienteFactory, MembershipFactory, UserFactory

URL = "/api/clientes/"


def jwt_client(user, *, tenant_slug: str | None = None) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/auth/token/",
        {"username": user.username, "password": "senha-forte-123"},
        format="json",
    )
    assert response.status_code == 200, response.content
    headers = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access']}"}
    if tenant_slug:
        headers["HTTP_X_TENANT"] = tenant_slug
    client.credentials(**headers)
    return client


@pytest.fixture(params=["api_key", "jwt"])
def tenant_client(request, tenant):
    """A client acting for `tenant`, once with an API key and once as a staff user."""
    if request.param == "api_key":
        return request.getfixturevalue("key_client")
    user = MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user
    return jwt_client(user)


@pytest.fixture
def foreign(other_tenant):
    return ClienteFactory(tenant=other_tenant, nome="Joana", telefone="5521912345678")


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_it_lists_only_the_callers_tenant(tenant_client, cliente, foreign):
    assert ids(tenant_client.get(URL)) == {cliente.pk}


def test_it_answers_404_for_another_tenants_cliente(tenant_client, foreign):
    assert tenant_client.get(f"{URL}{foreign.pk}/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch"])
def test_it_does_not_change_another_tenants_cliente(tenant_client, foreign, method):
    response = getattr(tenant_client, method)(
        f"{URL}{foreign.pk}/", {"nome": "Invasor", "telefone": "11 91111-2222"}, format="json"
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert (foreign.nome, foreign.telefone) == ("Joana", "5521912345678")


def test_it_does_not_delete_another_tenants_cliente(tenant_client, foreign):
    assert tenant_client.delete(f"{URL}{foreign.pk}/").status_code == 404
    assert Cliente.objects.filter(pk=foreign.pk).exists()


def test_it_ignores_a_tenant_sent_in_the_body(tenant_client, tenant, other_tenant):
    response = tenant_client.post(
        URL, {"nome": "Ana", "telefone": "11 95555-0000", "tenant": other_tenant.pk}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Cliente.objects.get(pk=response.json()["id"]).tenant == tenant


def test_an_api_key_acts_for_its_own_tenant_whatever_x_tenant_says(
    key_client, cliente, foreign, other_tenant
):
    response = key_client.get(URL, HTTP_X_TENANT=other_tenant.slug)
    assert ids(response) == {cliente.pk}


def test_a_user_of_two_tenants_must_name_one_with_x_tenant(tenant, other_tenant, cliente):
    user = MembershipFactory(tenant=tenant).user
    MembershipFactory(tenant=other_tenant, user=user)
    response = jwt_client(user).get(URL)
    assert response.status_code == 403
    assert "X-Tenant" in response.json()["detail"]


def test_a_user_of_two_tenants_sees_only_the_tenant_named_by_x_tenant(
    tenant, other_tenant, cliente, foreign
):
    user = MembershipFactory(tenant=tenant).user
    MembershipFactory(tenant=other_tenant, user=user)
    assert ids(jwt_client(user, tenant_slug="clinica").get(URL)) == {foreign.pk}
    assert ids(jwt_client(user, tenant_slug="padaria").get(URL)) == {cliente.pk}


def test_x_tenant_naming_a_tenant_the_user_does_not_belong_to_is_refused(
    owner, other_tenant, foreign
):
    response = jwt_client(owner, tenant_slug=other_tenant.slug).get(URL)
    assert response.status_code == 403
    assert "clinica" in response.json()["detail"]


def test_a_user_without_a_membership_is_refused(db):
    response = jwt_client(UserFactory()).get(URL)
    assert response.status_code == 403


def test_a_superuser_sees_every_tenant(cliente, foreign):
    admin = UserFactory(is_superuser=True)
    assert ids(jwt_client(admin).get(URL)) == {cliente.pk, foreign.pk}
    assert ids(jwt_client(admin, tenant_slug="clinica").get(URL)) == {foreign.pk}


def test_a_superuser_must_name_the_tenant_to_create(db, other_tenant):
    admin = UserFactory(is_superuser=True)
    response = jwt_client(admin).post(URL, {"nome": "Ana"}, format="json")
    assert response.status_code == 400
    assert "X-Tenant" in str(response.json())
    response = jwt_client(admin, tenant_slug="clinica").post(URL, {"nome": "Ana"}, format="json")
    assert response.status_code == 201
    assert Cliente.objects.get(pk=response.json()["id"]).tenant == other_tenant


def test_a_revoked_api_key_is_refused(tenant, cliente):
    api_key, key = api_key_create(tenant=tenant, name="antiga")
    api_key.revoked = True
    api_key.save()
    response = APIClient().get(URL, HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 401
    assert "revogada" in response.json()["detail"]


def test_the_key_of_a_deactivated_tenant_is_refused(key_client, tenant, cliente):
    tenant.active = False
    tenant.save()
    response = key_client.get(URL)
    assert response.status_code == 403
    assert "desativada" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Api-Key nao.existe", "Api-Key ", "Bearer abc"])
def test_a_bad_credential_is_refused(cliente, header):
    assert APIClient().get(URL, HTTP_AUTHORIZATION=header).status_code == 401


def test_an_anonymous_request_is_refused(cliente):
    assert APIClient().get(URL).status_code == 401


def test_it_stores_the_phone_normalized(key_client, tenant):
    response = key_client.post(
        URL, {"nome": "Ana", "telefone": "(11) 98765-4321", "tags": ["vip"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["telefone"] == "5511987654321"
    assert Cliente.objects.get(tenant=tenant).telefone == "5511987654321"


@pytest.mark.parametrize("spelling", ["+55 (11) 98765-4321", "551187654321", "(11) 8765-4321"])
def test_it_refuses_a_duplicate_phone_in_any_spelling(key_client, cliente, spelling):
    response = key_client.post(URL, {"nome": "Outra", "telefone": spelling}, format="json")
    assert response.status_code == 400
    assert "telefone" in response.json()
    assert Cliente.objects.filter(telefone="5511987654321").count() == 1


def test_it_allows_the_same_phone_in_another_tenant(key_client, other_tenant):
    ClienteFactory(tenant=other_tenant, telefone="5511987654321")
    response = key_client.post(URL, {"telefone": "11 98765-4321"}, format="json")
    assert response.status_code == 201, response.content


def test_it_refuses_changing_a_phone_to_another_clientes(key_client, tenant, cliente):
    other = ClienteFactory(tenant=tenant, telefone="5511911112222")
    response = key_client.patch(f"{URL}{other.pk}/", {"telefone": "11 8765-4321"}, format="json")
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.telefone == "5511911112222"


def test_it_refuses_an_invalid_phone(key_client):
    response = key_client.post(URL, {"telefone": "123"}, format="json")
    assert response.status_code == 400
    assert "telefone" in response.json()


def test_it_updates_and_deletes_its_own_cliente(key_client, cliente):
    response = key_client.patch(
        f"{URL}{cliente.pk}/", {"nome": "Maria Silva", "tags": ["vip"]}, format="json"
    )
    assert response.status_code == 200, response.content
    cliente.refresh_from_db()
    assert (cliente.nome, cliente.tags) == ("Maria Silva", ["vip"])
    assert key_client.delete(f"{URL}{cliente.pk}/").status_code == 204
    assert not Cliente.objects.filter(pk=cliente.pk).exists()


def test_it_filters_by_tag(key_client, tenant, other_tenant):
    vip = ClienteFactory(tenant=tenant, tags=["vip", "pizza"])
    ClienteFactory(tenant=tenant, tags=["pizza"])
    ClienteFactory(tenant=other_tenant, tags=["vip"])
    assert ids(key_client.get(URL, {"tag": "vip"})) == {vip.pk}


@pytest.mark.parametrize("spelling", ["5511987654321", "551187654321", "(11) 98765-4321"])
def test_it_filters_by_phone_in_any_spelling(key_client, tenant, cliente, spelling):
    ClienteFactory(tenant=tenant, telefone="5511911112222")
    assert ids(key_client.get(URL, {"telefone": spelling})) == {cliente.pk}


def test_a_phone_filter_that_is_not_a_phone_finds_nothing(key_client, cliente):
    assert ids(key_client.get(URL, {"telefone": "abc"})) == set()


def test_it_searches_by_name(key_client, tenant, cliente, other_tenant):
    ClienteFactory(tenant=tenant, nome="João")
    ClienteFactory(tenant=other_tenant, nome="Maria Clara")
    assert ids(key_client.get(URL, {"search": "mari"})) == {cliente.pk}


def test_it_pages_the_list(key_client, tenant):
    page_size = 50  # REST_FRAMEWORK["PAGE_SIZE"] default
    Cliente.objects.bulk_create(
        Cliente(tenant=tenant, nome=f"C{n}", telefone=f"55119{n:08d}") for n in range(page_size + 1)
    )
    first = key_client.get(URL).json()
    assert first["count"] == page_size + 1
    assert len(first["results"]) == page_size
    second = key_client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert {r["id"] for r in first["results"]}.isdisjoint({r["id"] for r in second["results"]})
