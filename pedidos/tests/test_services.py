"""Cart, confirmation, totals, stock and status changes, through pedidos.services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from pedidos import selectors, services, stale_carts
from pedidos.models import ItemPedido, Pedido, Produto
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory

S = StatusPedido


@pytest.fixture
def carrinho(tenant, cliente, chatbot):
    return services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)


def confirmado(tenant, cliente, chatbot, *itens) -> Pedido:
    return services.pedido_create(tenant=tenant, cliente=cliente, chatbot=chatbot, itens=itens)


# --- Cart ------------------------------------------------------------------------------


def test_the_cart_is_one_open_order_per_customer_and_bot(tenant, cliente, chatbot, carrinho):
    again = services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
    assert again.pk == carrinho.pk
    assert again.status == S.RASCUNHO
    sem_bot = services.carrinho_get_or_create(tenant=tenant, cliente=cliente)
    assert sem_bot.pk != carrinho.pk
    assert services.carrinho_get_or_create(tenant=tenant, cliente=cliente).pk == sem_bot.pk


def test_a_cart_resumes_with_its_items(tenant, cliente, chatbot, carrinho, produto_a):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    aberto = selectors.carrinho_get_open(tenant=tenant, cliente=cliente, chatbot=chatbot)
    assert aberto.pk == carrinho.pk
    assert [(i.produto.nome, i.quantidade) for i in selectors.pedido_list_items(pedido=aberto)] == [
        ("X-Búrguer", 2)
    ]


def test_adding_the_same_product_again_sums_the_quantity(carrinho, produto_a):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    item = services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade="3")
    assert item.quantidade == 5
    assert ItemPedido.objects.filter(pedido=carrinho).count() == 1
    carrinho.refresh_from_db()
    assert carrinho.total == Decimal("50.00")


@pytest.mark.parametrize("quantidade", [0, -1, "dois", 10000, "0", "-1", "1.5", "", None, True])
def test_it_refuses_a_bad_quantity_with_a_message_saying_what_is_expected(
    carrinho, produto_a, quantidade
):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    with pytest.raises(services.QuantidadeInvalida) as exc:
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=quantidade)
    assert exc.value.messages == [
        "Quantidade inválida: envie um número inteiro de 1 a 99 (por exemplo, 2)."
    ]
    # the cart is kept as it was
    assert [(i.produto_id, i.quantidade) for i in carrinho.itens.all()] == [(produto_a.pk, 1)]


def test_the_maximum_quantity_is_an_argument(carrinho, produto_a, produto_b):
    item = services.carrinho_add_item(
        pedido=carrinho, produto=produto_a, quantidade=500, maximum=500
    )
    assert item.quantidade == 500
    with pytest.raises(services.QuantidadeInvalida, match="de 1 a 5 "):
        services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=6, maximum=5)


def test_adding_beyond_the_maximum_in_two_steps_is_refused(carrinho, produto_a):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=98)
    with pytest.raises(ValidationError, match="já tem 98 de X-Búrguer"):
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)


def test_it_refuses_more_than_the_tracked_stock(carrinho, produto_a):
    produto_a.estoque = 3
    produto_a.save()
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    with pytest.raises(services.EstoqueInsuficiente, match="só 3 unidade"):
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    produto_a.estoque = 0
    produto_a.save()
    with pytest.raises(services.EstoqueInsuficiente, match="esgotado"):
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)


def test_it_refuses_an_inactive_product_or_another_tenants(carrinho, produto_a, produto_alheio):
    produto_a.ativo = False
    produto_a.save()
    with pytest.raises(services.ProdutoIndisponivel, match="não está disponível"):
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    with pytest.raises(services.ProdutoIndisponivel, match="Produto não encontrado"):
        services.carrinho_add_item(pedido=carrinho, produto=produto_alheio, quantidade=1)
    assert not carrinho.itens.exists()


def test_emptying_the_cart_keeps_it_open_and_empty(carrinho, produto_a, produto_b):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=1)
    services.carrinho_empty(pedido=carrinho)
    carrinho.refresh_from_db()
    assert carrinho.status == S.RASCUNHO
    assert carrinho.total == Decimal("0.00")
    assert not carrinho.itens.exists()
    assert selectors.pedido_summarize(pedido=carrinho) == "Seu carrinho está vazio."


# --- Confirmation ---------------------------------------------------------------------


def test_two_a_plus_one_b_confirms_with_the_total_computed(carrinho, produto_a, produto_b):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=1)
    pedido = services.pedido_confirm(pedido=carrinho)
    assert pedido.status == S.CONFIRMADO
    assert pedido.confirmado_em is not None
    assert pedido.total == Decimal("24.50")
    assert services.pedido_compute_total(pedido=pedido) == Decimal("24.50")
    assert selectors.pedido_summarize(pedido=pedido) == (
        "2 × X-Búrguer (R$ 10,00) = R$ 20,00\n1 × Suco (R$ 4,50) = R$ 4,50\nTotal: R$ 24,50"
    )


def test_a_forged_total_is_recomputed_at_confirmation(carrinho, produto_a):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    Pedido.objects.filter(pk=carrinho.pk).update(total=Decimal("0.01"))
    assert services.pedido_confirm(pedido=carrinho).total == Decimal("20.00")


def test_confirmation_takes_todays_price_and_keeps_it_afterwards(carrinho, produto_a):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    produto_a.preco = Decimal("11.00")  # changed while the cart was open: refreshed
    produto_a.save()
    pedido = services.pedido_confirm(pedido=carrinho)
    assert pedido.total == Decimal("22.00")

    produto_a.preco = Decimal("99.00")  # changed after confirmation: the order keeps its price
    produto_a.save()
    pedido.refresh_from_db()
    assert pedido.total == Decimal("22.00")
    assert pedido.itens.get().preco_unitario == Decimal("11.00")
    assert services.pedido_compute_total(pedido=pedido) == Decimal("22.00")


def test_confirmation_takes_the_stock(carrinho, produto_a, produto_b):
    produto_a.estoque = 5
    produto_a.save()
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=1)
    services.pedido_confirm(pedido=carrinho)
    produto_a.refresh_from_db()
    produto_b.refresh_from_db()
    assert (produto_a.estoque, produto_b.estoque) == (3, None)


def test_confirmation_refuses_what_the_stock_no_longer_covers(carrinho, produto_a, produto_b):
    produto_b.estoque = 5
    produto_b.save()
    services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=2)
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    Produto.objects.filter(pk=produto_b.pk).update(estoque=1)  # sold elsewhere meanwhile
    with pytest.raises(services.EstoqueInsuficiente, match="só 1 unidade"):
        services.pedido_confirm(pedido=carrinho)
    carrinho.refresh_from_db()
    produto_b.refresh_from_db()
    assert carrinho.status == S.RASCUNHO
    assert produto_b.estoque == 1


def test_an_empty_cart_cannot_be_confirmed(carrinho):
    with pytest.raises(services.CarrinhoVazio):
        services.pedido_confirm(pedido=carrinho)


def test_a_double_confirmation_confirms_once(carrinho, produto_a):
    produto_a.estoque = 10
    produto_a.save()
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=2)
    services.pedido_confirm(pedido=carrinho)
    with pytest.raises(services.PedidoFechado, match="já está Confirmado"):
        services.pedido_confirm(pedido=carrinho)
    with pytest.raises(services.PedidoFechado):
        services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    produto_a.refresh_from_db()
    assert produto_a.estoque == 8
    assert carrinho.itens.get().quantidade == 2


def test_after_confirming_the_next_message_opens_a_new_cart(
    tenant, cliente, chatbot, carrinho, produto_a
):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    services.pedido_confirm(pedido=carrinho)
    novo = services.carrinho_get_or_create(tenant=tenant, cliente=cliente, chatbot=chatbot)
    assert novo.pk != carrinho.pk
    assert not novo.itens.exists()


# --- Direct creation (API, catalog) ---------------------------------------------------


def test_pedido_create_confirms_with_items_and_sums_repeated_products(
    tenant, cliente, produto_a, produto_b
):
    pedido = services.pedido_create(
        tenant=tenant,
        cliente=cliente,
        itens=[(produto_a, 1), (produto_b, 1), (produto_a, 1)],
        endereco_entrega="Rua A, 1",
    )
    assert pedido.status == S.CONFIRMADO
    assert pedido.total == Decimal("24.50")
    assert {(i.produto_id, i.quantidade) for i in pedido.itens.all()} == {
        (produto_a.pk, 2),
        (produto_b.pk, 1),
    }


def test_pedido_create_refuses_another_tenants_product(tenant, cliente, produto_a, produto_alheio):
    with pytest.raises(services.ProdutoIndisponivel, match="Produto não encontrado"):
        services.pedido_create(
            tenant=tenant, cliente=cliente, itens=[(produto_a, 1), (produto_alheio, 1)]
        )
    assert not Pedido.objects.exists()


def test_pedido_create_refuses_another_tenants_cliente(tenant, other_tenant, produto_a):
    alheio = ClienteFactory(tenant=other_tenant)
    with pytest.raises(ValidationError):
        services.pedido_create(tenant=tenant, cliente=alheio, itens=[(produto_a, 1)])


def test_a_whatsapp_catalog_cart_becomes_an_order_naming_unknown_items(
    tenant, cliente, chatbot, produto_a, produto_b, produto_alheio
):
    produto_b.ativo = False
    produto_b.save()
    pedido, desconhecidos = services.pedido_create_from_whatsapp_order(
        tenant=tenant,
        cliente=cliente,
        chatbot=chatbot,
        product_items=[
            # Meta's item_price is what the customer's app showed; ours applies.
            {"product_retailer_id": "xb", "quantity": 2, "item_price": 1, "currency": "BRL"},
            {"product_retailer_id": "suco", "quantity": 1, "item_price": 4.5, "currency": "BRL"},
            {"product_retailer_id": "pizza-99", "quantity": 1, "item_price": 50, "currency": "BRL"},
        ],
    )
    assert pedido.status == S.CONFIRMADO
    assert pedido.chatbot == chatbot
    assert pedido.total == Decimal("20.00")
    assert [(i.produto_id, i.quantidade) for i in pedido.itens.all()] == [(produto_a.pk, 2)]
    assert desconhecidos == ["Suco", "pizza-99"]


def test_a_whatsapp_cart_with_nothing_we_sell_is_refused_by_name(tenant, cliente, chatbot):
    with pytest.raises(services.ItensNaoEncontrados, match="pizza-99") as exc:
        services.pedido_create_from_whatsapp_order(
            tenant=tenant,
            cliente=cliente,
            chatbot=chatbot,
            product_items=[{"product_retailer_id": "pizza-99", "quantity": 1}],
        )
    assert exc.value.desconhecidos == ["pizza-99"]
    assert not Pedido.objects.exists()


# --- Status changes and the customer notice -------------------------------------------


@pytest.fixture
def pedido(tenant, cliente, chatbot, produto_a, produto_b):
    return confirmado(tenant, cliente, chatbot, (produto_a, 2), (produto_b, 1))


def test_an_illegal_transition_lists_the_allowed_ones(pedido):
    with pytest.raises(services.TransicaoInvalida) as exc:
        services.pedido_change_status(pedido=pedido, status=S.ENTREGUE)
    assert exc.value.permitidos == [S.EM_PREPARO, S.CANCELADO]
    assert exc.value.messages == [
        f"O pedido nº {pedido.pk} está Confirmado e não pode passar para Entregue. "
        "Situações permitidas: Em preparo, Cancelado."
    ]


def test_a_delivered_order_cannot_be_cancelled(pedido):
    for status in (S.EM_PREPARO, S.SAIU_PARA_ENTREGA, S.ENTREGUE):
        pedido = services.pedido_change_status(pedido=pedido, status=status)
    with pytest.raises(services.TransicaoInvalida, match="nenhuma"):
        services.pedido_cancel(pedido=pedido)


def test_an_unknown_status_is_refused(pedido):
    with pytest.raises(services.StatusDesconhecido, match="pago"):
        services.pedido_change_status(pedido=pedido, status="pago")


def test_cancelling_a_placed_order_gives_the_stock_back(tenant, cliente, chatbot, produto_a):
    produto_a.estoque = 5
    produto_a.save()
    pedido = confirmado(tenant, cliente, chatbot, (produto_a, 2))
    produto_a.refresh_from_db()
    assert produto_a.estoque == 3
    services.pedido_change_status(pedido=pedido, status=S.EM_PREPARO)
    services.pedido_cancel(pedido=pedido)
    produto_a.refresh_from_db()
    assert produto_a.estoque == 5


def test_staff_confirming_a_cart_prices_it_and_takes_stock(carrinho, produto_a):
    produto_a.estoque = 4
    produto_a.save()
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=3)
    pedido = services.pedido_change_status(pedido=carrinho, status=S.CONFIRMADO)
    assert (pedido.status, pedido.total) == (S.CONFIRMADO, Decimal("30.00"))
    produto_a.refresh_from_db()
    assert produto_a.estoque == 1


# --- Catalog --------------------------------------------------------------------------


def test_a_product_already_ordered_cannot_be_deleted(pedido, produto_a):
    with pytest.raises(ValidationError, match="desative"):
        services.produto_delete(produto=produto_a)
    assert Produto.objects.filter(pk=produto_a.pk).exists()


def test_deleting_a_product_drops_it_from_open_carts(carrinho, produto_a, produto_b):
    services.carrinho_add_item(pedido=carrinho, produto=produto_a, quantidade=1)
    services.carrinho_add_item(pedido=carrinho, produto=produto_b, quantidade=2)
    services.produto_delete(produto=produto_a)
    carrinho.refresh_from_db()
    assert carrinho.total == Decimal("9.00")


def test_available_categories_are_active_with_active_products(tenant, categoria, produto_a):
    vazia = services.categoria_create(tenant=tenant, nome="Vazia", ordem=0)
    inativa = services.categoria_create(tenant=tenant, nome="Antiga", ativo=False)
    services.produto_create(tenant=tenant, categoria=inativa, nome="Velho", preco=Decimal("1"))
    assert vazia.pk
    assert list(selectors.categoria_list_available(tenant=tenant)) == [categoria]


def test_retailer_ids_are_unique_per_tenant(tenant, categoria, produto_a, produto_alheio):
    assert produto_alheio.retailer_id == produto_a.retailer_id  # fine across tenants
    with pytest.raises(ValidationError) as exc:
        services.produto_create(
            tenant=tenant, categoria=categoria, nome="Outro", preco=Decimal("1"), retailer_id="xb"
        )
    assert "catálogo da Meta" in str(exc.value)


def test_stale_cutoffs_for_an_old_order_do_not_matter(pedido):
    # confirmed orders are never touched by the stale-cart job
    Pedido.objects.filter(pk=pedido.pk).update(atualizado_em=timezone.now() - timedelta(days=30))
    assert stale_carts.carrinhos_remind_and_expire(remind_after_hours=1, expire_after_hours=2) == (
        0,
        0,
    )
    assert Pedido.objects.filter(pk=pedido.pk, status=S.CONFIRMADO).exists()
