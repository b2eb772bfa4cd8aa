"""Two customers confirming the last units at the same moment: one gets them, never both."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from pedidos import services
from pedidos.models import Categoria, Pedido, Produto
from pedidos.status import StatusPedido
from tests.factories import ClienteFactory


def run_together(targets):
    barrier = threading.Barrier(len(targets))
    results: list[object] = []

    def wrap(fn):
        def inner():
            try:
                barrier.wait()
                results.append(fn())
            except Exception as exc:  # collected and asserted on below
                results.append(exc)
            finally:
                connection.close()

        return inner

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_racing_for_the_last_units_cannot_oversell(tenant, monkeypatch):
    categoria = Categoria.objects.create(tenant=tenant, nome="Doces")
    bolo = Produto.objects.create(
        tenant=tenant, categoria=categoria, nome="Bolo", preco=Decimal("30"), estoque=3
    )
    carrinhos = []
    for _ in range(2):
        carrinho = services.carrinho_get_or_create(
            tenant=tenant, cliente=ClienteFactory(tenant=tenant)
        )
        services.carrinho_add_item(pedido=carrinho, produto=bolo, quantidade=2)
        carrinhos.append(carrinho)

    # Hold each transaction open after it took the stock, so both have read the product
    # before either commits: a read-check-write implementation would sell 4 of 3.
    slow_total = services.pedido_compute_total

    def held_open(*, pedido):
        time.sleep(0.3)
        return slow_total(pedido=pedido)

    monkeypatch.setattr(services, "pedido_compute_total", held_open)
    results = run_together([lambda c=c: services.pedido_confirm(pedido=c) for c in carrinhos])

    confirmed = [r for r in results if isinstance(r, Pedido)]
    refused = [r for r in results if isinstance(r, services.EstoqueInsuficiente)]
    assert (len(confirmed), len(refused)) == (1, 1), results
    assert refused[0].messages == [
        "Temos só 1 unidade(s) de Bolo em estoque: escolha uma quantidade de até 1."
    ]
    bolo.refresh_from_db()
    assert bolo.estoque == 1
    assert Pedido.objects.filter(status=StatusPedido.CONFIRMADO).count() == 1
    assert Pedido.objects.filter(status=StatusPedido.RASCUNHO).count() == 1  # the cart is kept
