"""Fixtures of the pedidos tests: a small menu for `tenant`, one product of another tenant."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbots.models import Chatbot
from pedidos.models import Categoria, Produto


@pytest.fixture
def chatbot(tenant):
    return Chatbot.objects.create(tenant=tenant, name="Padaria", provider="stub")


@pytest.fixture
def categoria(tenant):
    return Categoria.objects.create(tenant=tenant, nome="Lanches", ordem=1)


@pytest.fixture
def produto_a(tenant, categoria):
    return Produto.objects.create(
        tenant=tenant,
        categoria=categoria,
        nome="X-Búrguer",
        preco=Decimal("10.00"),
        retailer_id="xb",
    )


@pytest.fixture
def produto_b(tenant, categoria):
    return Produto.objects.create(
        tenant=tenant, categoria=categoria, nome="Suco", preco=Decimal("4.50"), retailer_id="suco"
    )


@pytest.fixture
def produto_alheio(other_tenant):
    outra = Categoria.objects.create(tenant=other_tenant, nome="Exames")
    return Produto.objects.create(
        tenant=other_tenant,
        categoria=outra,
        nome="Limpeza",
        preco=Decimal("99.00"),
        retailer_id="xb",
    )
