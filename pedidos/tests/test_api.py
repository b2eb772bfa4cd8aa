"""/api/pedidos/: catalog CRUD, orders, status changes, and tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import Membership
from chatbots.models import Conversation, Message
from pedidos import services
from pedidos.models import Categoria, Pedido, Produto
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory, MembershipFactory

CATEGORIAS = "/api/pedidos/categorias/"
PRODUTOS = "/api/pedidos/produtos/"
PEDIDOS = "/api/pedidos/pedidos/"


def jwt_client(user) -> APIClient:
    client = APIClient()
    response = client.post(
        "/api/auth/token/",
        {"username": user.username, "password": "senha-forte-123"},
        format="json",
    )
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@pytest.fixture(params=["api_key", "jwt"])
def client(request, tenant):
    """Acting for `tenant`, once with an API key and once as a staff user."""
    if request.param == "api_key":
        return request.getfixturevalue("key_client")
    return jwt_client(MembershipFactory(tenant=tenant, role=Membership.Role.ADMIN).user)


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def pedido(tenant, cliente, chatbot, produto_a, produto_b):
    return services.pedido_create(
        tenant=tenant, cliente=cliente, chatbot=chatbot, itens=[(produto_a, 2), (produto_b, 1)]
    )


@pytest.fixture
def pedido_alheio(other_tenant, produto_alheio):
    cliente = ClienteFactory(tenant=other_tenant)
    return services.pedido_create(tenant=other_tenant, cliente=cliente, itens=[(produto_alheio, 1)])


# --- Catalog ----------------------------------------------------------------------------


def test_it_creates_updates_and_deletes_a_category(client, tenant):
    response = client.post(CATEGORIAS, {"nome": "Bebidas", "ordem": 2}, format="json")
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert Categoria.objects.get(pk=pk).tenant == tenant
    response = client.patch(f"{CATEGORIAS}{pk}/", {"ativo": False}, format="json")
    assert response.json()["ativo"] is False
    assert client.delete(f"{CATEGORIAS}{pk}/").status_code == 204


def test_a_category_with_products_is_not_deleted(client, categoria, produto_a):
    response = client.post(CATEGORIAS, {"nome": "Lanches"}, format="json")
    assert response.status_code == 400  # same name in the same tenant
    response = client.delete(f"{CATEGORIAS}{categoria.pk}/")
    assert response.status_code == 400
    assert "desative" in str(response.json())


def test_it_creates_a_product_and_filters_by_category_active_and_name(
    client, tenant, categoria, produto_a, produto_b
):
    bebidas = Categoria.objects.create(tenant=tenant, nome="Bebidas")
    response = client.post(
        PRODUTOS,
        {"categoria": bebidas.pk, "nome": "Água com gás", "preco": "3.50", "estoque": 10},
        format="json",
    )
    assert response.status_code == 201, response.content
    agua = response.json()
    assert (agua["preco"], agua["estoque"], agua["ativo"]) == ("3.50", 10, True)
    produto_b.ativo = False
    produto_b.save()

    assert ids(client.get(PRODUTOS, {"categoria": bebidas.pk})) == {agua["id"]}
    assert ids(client.get(PRODUTOS, {"ativo": "false"})) == {produto_b.pk}
    assert ids(client.get(PRODUTOS, {"search": "búrg"})) == {produto_a.pk}


@pytest.mark.parametrize(
    "body", [{"preco": "-1"}, {"preco": "abc"}, {"estoque": -2}, {"imagem_url": "não é url"}]
)
def test_it_refuses_bad_product_fields(client, categoria, body):
    data = {"categoria": categoria.pk, "nome": "X", "preco": "1.00", **body}
    response = client.post(PRODUTOS, data, format="json")
    assert response.status_code == 400
    assert set(body) <= set(response.json())


def test_a_duplicate_retailer_id_is_a_field_error(client, categoria, produto_a):
    response = client.post(
        PRODUTOS,
        {"categoria": categoria.pk, "nome": "Outro", "preco": "1.00", "retailer_id": "xb"},
        format="json",
    )
    assert response.status_code == 400
    assert "catálogo da Meta" in str(response.json())


def test_it_cannot_put_a_product_in_another_tenants_category(client, produto_alheio):
    response = client.post(
        PRODUTOS,
        {"categoria": produto_alheio.categoria_id, "nome": "X", "preco": "1.00"},
        format="json",
    )
    assert response.status_code == 400
    assert not Produto.objects.filter(nome="X").exists()


def test_the_catalog_lists_only_the_callers_tenant(client, produto_a, produto_alheio):
    assert ids(client.get(PRODUTOS)) == {produto_a.pk}
    assert ids(client.get(CATEGORIAS)) == {produto_a.categoria_id}
    # another tenant's category filters to nothing, exactly like one that does not exist
    assert ids(client.get(PRODUTOS, {"categoria": produto_alheio.categoria_id})) == set()
    assert ids(client.get(PRODUTOS, {"categoria": 999999})) == set()


@pytest.mark.parametrize("url", [PRODUTOS, CATEGORIAS])
def test_another_tenants_catalog_rows_are_not_found(client, produto_alheio, url):
    pk = produto_alheio.pk if url == PRODUTOS else produto_alheio.categoria_id
    assert client.get(f"{url}{pk}/").status_code == 404
    assert client.patch(f"{url}{pk}/", {"nome": "Invasor"}, format="json").status_code == 404
    assert client.delete(f"{url}{pk}/").status_code == 404
    produto_alheio.refresh_from_db()
    assert produto_alheio.nome == "Limpeza"
    assert produto_alheio.categoria.nome == "Exames"


# --- Orders -----------------------------------------------------------------------------


def test_it_creates_an_order_with_items_and_computes_the_total(
    client, tenant, cliente, chatbot, produto_a, produto_b
):
    response = client.post(
        PEDIDOS,
        {
            "cliente": cliente.pk,
            "chatbot": chatbot.pk,
            "itens": [
                {"produto": produto_a.pk, "quantidade": 2},
                {"produto": produto_b.pk, "quantidade": 1},
            ],
            "endereco_entrega": "Rua das Flores, 10",
            "total": "0.01",  # ignored: the server computes it
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["total"], body["status_label"]) == (
        "confirmado",
        "24.50",
        "Confirmado",
    )
    assert [(i["produto_nome"], i["quantidade"], i["preco_unitario"]) for i in body["itens"]] == [
        ("X-Búrguer", 2, "10.00"),
        ("Suco", 1, "4.50"),
    ]
    assert Pedido.objects.get(pk=body["id"]).tenant == tenant


def test_an_order_with_another_tenants_product_is_refused_like_a_missing_one(
    client, cliente, produto_a, produto_alheio
):
    def place(produto_id):
        return client.post(
            PEDIDOS,
            {"cliente": cliente.pk, "itens": [{"produto": produto_id, "quantidade": 1}]},
            format="json",
        )

    foreign, missing = place(produto_alheio.pk), place(999999)
    assert foreign.status_code == missing.status_code == 400
    assert str(foreign.json()).replace(str(produto_alheio.pk), "N") == str(missing.json()).replace(
        "999999", "N"
    )
    assert not Pedido.objects.exists()


def test_an_order_for_another_tenants_customer_is_refused(client, other_tenant, produto_a):
    alheio = ClienteFactory(tenant=other_tenant)
    response = client.post(
        PEDIDOS,
        {"cliente": alheio.pk, "itens": [{"produto": produto_a.pk, "quantidade": 1}]},
        format="json",
    )
    assert response.status_code == 400
    assert "cliente" in response.json()


@pytest.mark.parametrize("quantidade", [0, -1, "dois", 10000])
def test_an_order_with_a_bad_quantity_is_refused(client, cliente, produto_a, quantidade):
    response = client.post(
        PEDIDOS,
        {"cliente": cliente.pk, "itens": [{"produto": produto_a.pk, "quantidade": quantidade}]},
        format="json",
    )
    assert response.status_code == 400
    assert "itens" in response.json()
    assert not Pedido.objects.exists()


def test_an_order_beyond_the_stock_is_refused_naming_what_is_left(client, cliente, produto_a):
    produto_a.estoque = 1
    produto_a.save()
    response = client.post(
        PEDIDOS,
        {"cliente": cliente.pk, "itens": [{"produto": produto_a.pk, "quantidade": 2}]},
        format="json",
    )
    assert response.status_code == 400
    assert "só 1 unidade(s) de X-Búrguer" in response.json()["itens"][0]
    produto_a.refresh_from_db()
    assert produto_a.estoque == 1


def test_an_order_without_items_is_refused(client, cliente):
    response = client.post(PEDIDOS, {"cliente": cliente.pk, "itens": []}, format="json")
    assert response.status_code == 400
    assert "itens" in response.json()


def test_it_lists_only_the_callers_orders_and_filters_them(
    client, tenant, cliente, pedido, pedido_alheio, produto_a
):
    outro = ClienteFactory(tenant=tenant)
    segundo = services.pedido_create(tenant=tenant, cliente=outro, itens=[(produto_a, 1)])
    services.pedido_change_status(pedido=segundo, status=StatusPedido.EM_PREPARO)

    assert ids(client.get(PEDIDOS)) == {pedido.pk, segundo.pk}
    assert ids(client.get(PEDIDOS, {"status": "em_preparo"})) == {segundo.pk}
    assert ids(client.get(PEDIDOS, {"cliente": cliente.pk})) == {pedido.pk}
    hoje = timezone.localdate().isoformat()
    assert ids(client.get(PEDIDOS, {"criado_de": hoje, "criado_ate": hoje})) == {
        pedido.pk,
        segundo.pk,
    }
    assert ids(client.get(PEDIDOS, {"criado_ate": "2000-01-01"})) == set()


def test_the_order_list_does_not_grow_queries_with_orders(
    client, tenant, cliente, pedido, produto_a, django_assert_max_num_queries
):
    for _ in range(5):
        services.pedido_create(tenant=tenant, cliente=cliente, itens=[(produto_a, 1)])
    with django_assert_max_num_queries(12):
        assert len(ids(client.get(PEDIDOS))) == 6


def test_it_retrieves_an_order_with_its_items(client, pedido):
    body = client.get(f"{PEDIDOS}{pedido.pk}/").json()
    assert body["numero"] == pedido.pk
    assert len(body["itens"]) == 2
    assert body["itens"][0]["subtotal"] == "20.00"


def test_another_tenants_order_is_not_found(client, pedido_alheio):
    url = f"{PEDIDOS}{pedido_alheio.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(f"{url}status/", {"status": "cancelado"}, format="json").status_code == 404
    pedido_alheio.refresh_from_db()
    assert pedido_alheio.status == StatusPedido.CONFIRMADO


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_placed_order_changes_only_through_its_status(client, pedido, method):
    response = getattr(client, method)(f"{PEDIDOS}{pedido.pk}/", {"total": "1.00"}, format="json")
    assert response.status_code == 405
    pedido.refresh_from_db()
    assert pedido.total == Decimal("24.50")


def test_the_status_action_moves_the_order_and_tells_the_customer_once(
    client, pedido, cliente, chatbot, django_capture_on_commit_callbacks
):
    Conversation.objects.create(
        tenant=chatbot.tenant,
        chatbot=chatbot,
        cliente=cliente,
        last_customer_message_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{PEDIDOS}{pedido.pk}/status/", {"status": "em_preparo"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "em_preparo"
    sent = Message.objects.filter(conversation__cliente=cliente, direction="out")
    assert [m.text for m in sent] == [f"Seu pedido nº {pedido.pk} está em preparo."]


def test_an_illegal_status_change_is_refused_with_the_allowed_ones(client, pedido):
    response = client.post(f"{PEDIDOS}{pedido.pk}/status/", {"status": "entregue"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["permitidos"] == ["em_preparo", "cancelado"]
    assert "Situações permitidas: Em preparo, Cancelado" in body["status"][0]
    pedido.refresh_from_db()
    assert pedido.status == StatusPedido.CONFIRMADO


def test_an_unknown_status_is_refused_with_the_valid_ones(client, pedido):
    response = client.post(f"{PEDIDOS}{pedido.pk}/status/", {"status": "pago"}, format="json")
    assert response.status_code == 400
    assert "em_preparo" in response.json()["permitidos"]


def test_an_anonymous_request_is_refused(pedido):
    assert APIClient().get(PEDIDOS).status_code == 401
