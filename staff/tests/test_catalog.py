"""Products and services in the staff app (/atendimento/catalogo/): owners and admins list,
create, edit and deactivate them; agents and other tenants cannot."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agenda.models import Servico
from billing.models import Membership
from pedidos.models import Categoria, Produto
from tests.factories import (
    CategoriaFactory,
    MembershipFactory,
    ProdutoFactory,
    ServicoFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    membership = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(membership.user)
    return membership


def test_an_owner_adds_a_product_in_a_new_category(client, owner):
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "Pizza Margherita", "nova_categoria": "Pizzas", "preco": "45.90", "ativo": "on"},
    )
    assert response.status_code == 302
    produto = Produto.objects.get(tenant=owner.tenant)
    assert (produto.nome, produto.preco, produto.categoria.nome) == (
        "Pizza Margherita",
        Decimal("45.90"),
        "Pizzas",
    )
    page = client.get("/atendimento/catalogo/").content.decode()
    assert "Pizza Margherita" in page and "R$ 45,90" in page


def test_a_negative_price_is_refused_at_its_field(client, owner):
    categoria = CategoriaFactory(tenant=owner.tenant)
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "Suco", "categoria": categoria.pk, "preco": "-1"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["preco"]
    assert not Produto.objects.exists()


def test_an_owner_edits_and_deactivates_a_product(client, owner):
    categoria = CategoriaFactory(tenant=owner.tenant)
    produto = ProdutoFactory(
        tenant=owner.tenant, categoria=categoria, nome="Coca", preco=Decimal("5")
    )
    response = client.post(
        f"/atendimento/catalogo/produtos/{produto.pk}/",
        {"nome": "Coca 2L", "categoria": produto.categoria_id, "preco": "12,50", "ativo": "on"},
    )
    assert response.status_code == 302, response.context["form"].errors
    produto.refresh_from_db()
    assert (produto.nome, produto.preco) == ("Coca 2L", Decimal("12.50"))
    client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/")
    produto.refresh_from_db()
    assert produto.ativo is False
    assert "desativado" in client.get("/atendimento/catalogo/").content.decode()


def test_an_owner_adds_and_deactivates_a_service(client, owner):
    response = client.post(
        "/atendimento/catalogo/servicos/novo/",
        {"nome": "Corte", "duracao_minutos": "40", "preco": "35", "ativo": "on"},
    )
    assert response.status_code == 302
    servico = Servico.objects.get(tenant=owner.tenant)
    assert (servico.duracao_minutos, servico.preco) == (40, Decimal("35"))
    client.post(f"/atendimento/catalogo/servico/{servico.pk}/ativo/")
    servico.refresh_from_db()
    assert servico.ativo is False
    # A duration under five minutes is refused by the model's validator, at the field.
    response = client.post(
        f"/atendimento/catalogo/servicos/{servico.pk}/", {"nome": "Corte", "duracao_minutos": "2"}
    )
    assert response.context["form"].errors["duracao_minutos"]


def test_another_tenants_items_are_not_found(client, owner):
    produto = ProdutoFactory()
    servico = ServicoFactory()
    other_categoria = CategoriaFactory()
    assert client.get(f"/atendimento/catalogo/produtos/{produto.pk}/").status_code == 404
    assert client.get(f"/atendimento/catalogo/servicos/{servico.pk}/").status_code == 404
    assert client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/").status_code == 404
    page = client.get("/atendimento/catalogo/").content.decode()
    assert produto.nome not in page and servico.nome not in page
    # Nor can a product be put in another tenant's category.
    response = client.post(
        "/atendimento/catalogo/produtos/novo/",
        {"nome": "X", "categoria": other_categoria.pk, "preco": "1"},
    )
    assert response.context["form"].errors["categoria"]
    assert not Categoria.objects.filter(tenant=owner.tenant).exists()


def test_an_agent_may_not_change_the_catalog(client):
    agent = MembershipFactory(role=Membership.Role.AGENT)
    client.force_login(agent.user)
    produto = ProdutoFactory(categoria__tenant=agent.tenant)
    assert client.get("/atendimento/catalogo/").status_code == 403
    assert client.post(f"/atendimento/catalogo/produto/{produto.pk}/ativo/").status_code == 403
    produto.refresh_from_db()
    assert produto.ativo is True


def test_the_checklist_links_to_the_staff_pages_not_the_admin(client, owner):
    from tests.factories import ChatbotFactory

    ChatbotFactory(tenant=owner.tenant)
    page = client.get("/atendimento/comecar/").content.decode()
    assert "/atendimento/catalogo/produtos/novo/" in page
    assert "/admin/pedidos/" not in page
