"""The orders and catalog admin as a tenant's staff sees it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from pedidos import services
from pedidos.models import Pedido
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory

PEDIDOS = "/admin/pedidos/pedido/"
PRODUTOS = "/admin/pedidos/produto/"


@pytest.fixture
def staff(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def pedido(tenant, cliente, chatbot, produto_a, produto_b):
    return services.pedido_create(
        tenant=tenant, cliente=cliente, chatbot=chatbot, itens=[(produto_a, 2), (produto_b, 1)]
    )


@pytest.fixture
def pedido_alheio(other_tenant, produto_alheio):
    return services.pedido_create(
        tenant=other_tenant,
        cliente=ClienteFactory(tenant=other_tenant, nome="Joana Estrangeira"),
        itens=[(produto_alheio, 1)],
    )


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_order_list_shows_only_the_tenants_orders_with_totals(staff, pedido, pedido_alheio):
    response = staff.get(PEDIDOS)
    assert listed(response) == {pedido.pk}
    page = response.content.decode()
    assert "R$ 24,50" in page
    assert "Joana Estrangeira" not in page
    assert listed(staff.get(PEDIDOS, {"status__exact": "em_preparo"})) == set()


def test_the_order_list_queries_do_not_grow_with_orders(
    staff, tenant, cliente, pedido, produto_a, django_assert_max_num_queries
):
    for _ in range(10):
        services.pedido_create(
            tenant=tenant, cliente=ClienteFactory(tenant=tenant), itens=[(produto_a, 1)]
        )
    with django_assert_max_num_queries(20):
        assert len(listed(staff.get(PEDIDOS))) == 11


def test_a_placed_orders_items_are_read_only(staff, pedido):
    response = staff.get(f"{PEDIDOS}{pedido.pk}/change/")
    assert response.status_code == 200
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert "X-Búrguer" in response.content.decode()


def test_an_action_moves_orders_and_reports_each_refusal(staff, tenant, cliente, pedido, produto_a):
    entregue = services.pedido_create(tenant=tenant, cliente=cliente, itens=[(produto_a, 1)])
    for status in (StatusPedido.EM_PREPARO, StatusPedido.SAIU_PARA_ENTREGA, StatusPedido.ENTREGUE):
        services.pedido_change_status(pedido=entregue, status=status)

    response = staff.post(
        PEDIDOS,
        {"action": "marcar_cancelado", "_selected_action": [pedido.pk, entregue.pk]},
        follow=True,
    )
    messages = texts(response)
    assert "1 pedido(s) agora em “Cancelado”." in messages
    assert any(f"nº {entregue.pk} está Entregue" in m for m in messages)
    pedido.refresh_from_db()
    entregue.refresh_from_db()
    assert (pedido.status, entregue.status) == (StatusPedido.CANCELADO, StatusPedido.ENTREGUE)


def test_an_action_cannot_reach_another_tenants_order(staff, pedido_alheio):
    staff.post(PEDIDOS, {"action": "marcar_cancelado", "_selected_action": [pedido_alheio.pk]})
    pedido_alheio.refresh_from_db()
    assert pedido_alheio.status == StatusPedido.CONFIRMADO


def test_placed_orders_cannot_be_deleted_from_the_admin(staff, pedido):
    assert staff.post(f"{PEDIDOS}{pedido.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Pedido.objects.filter(pk=pedido.pk).exists()


def test_a_cart_built_in_the_admin_gets_current_prices_and_a_computed_total(
    staff, tenant, cliente, produto_a, produto_b
):
    response = staff.post(
        f"{PEDIDOS}add/",
        {
            "tenant": tenant.pk,
            "cliente": cliente.pk,
            "observacoes": "",
            "endereco_entrega": "",
            "itens-TOTAL_FORMS": "2",
            "itens-INITIAL_FORMS": "0",
            "itens-0-produto": produto_a.pk,
            "itens-0-quantidade": "2",
            "itens-1-produto": produto_b.pk,
            "itens-1-quantidade": "1",
        },
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    pedido = Pedido.objects.get()
    assert (pedido.status, pedido.total) == (StatusPedido.RASCUNHO, Decimal("24.50"))
    confirmed = services.pedido_change_status(pedido=pedido, status=StatusPedido.CONFIRMADO)
    assert confirmed.total == Decimal("24.50")


def test_the_product_list_filters_by_the_tenants_categories_only(staff, produto_a, produto_alheio):
    response = staff.get(PRODUTOS)
    assert listed(response) == {produto_a.pk}
    page = response.content.decode()
    assert "Lanches" in page
    assert "Exames" not in page  # the other tenant's category is not offered as a filter


def test_an_attendant_moves_orders_along_but_cannot_edit_them(client, tenant, pedido):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    agent = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user
    client.force_login(agent)

    response = client.post(
        PEDIDOS, {"action": "marcar_em_preparo", "_selected_action": [pedido.pk]}, follow=True
    )

    assert "1 pedido(s) agora em “Em preparo”." in texts(response)
    pedido.refresh_from_db()
    assert pedido.status == StatusPedido.EM_PREPARO
    change = client.get(f"{PEDIDOS}{pedido.pk}/change/")
    assert change.status_code == 200
    assert b'name="_save"' not in change.content  # read-only for an attendant


def test_an_attendant_of_another_tenant_cannot_move_its_orders(client, pedido_alheio, tenant):
    from billing.models import Membership
    from tests.factories import MembershipFactory

    client.force_login(MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user)
    client.post(PEDIDOS, {"action": "marcar_em_preparo", "_selected_action": [pedido_alheio.pk]})

    pedido_alheio.refresh_from_db()
    assert pedido_alheio.status == StatusPedido.CONFIRMADO
