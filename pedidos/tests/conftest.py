"""Fixtures of the pedidos tests: a small menu for `tenant`, one product of another tenant."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import CategoriaFactory, ChatbotFactory, ProdutoFactory


@pytest.fixture
def chatbot(tenant):
    return ChatbotFactory(tenant=tenant, name="Padaria", provider="stub", phone_number_id=None)


@pytest.fixture
def categoria(tenant):
    return CategoriaFactory(tenant=tenant, nome="Lanches", ordem=1)


@pytest.fixture
def produto_a(categoria):
    return ProdutoFactory(
        categoria=categoria, nome="X-Búrguer", preco=Decimal("10.00"), retailer_id="xb"
    )


@pytest.fixture
def produto_b(categoria):
    return ProdutoFactory(
        categoria=categoria, nome="Suco", preco=Decimal("4.50"), retailer_id="suco"
    )


@pytest.fixture
def produto_alheio(other_tenant):
    return ProdutoFactory(
        categoria=CategoriaFactory(tenant=other_tenant, nome="Exames"),
        nome="Limpeza",
        preco=Decimal("99.00"),
        retailer_id="xb",
    )
