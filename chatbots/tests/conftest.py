"""Fixtures of the chatbots tests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import CategoriaFactory, ProdutoFactory


@pytest.fixture
def loja(tenant):
    """A pizzeria's menu: two categories, three products (the order-flow tests)."""
    pizzas = CategoriaFactory(tenant=tenant, nome="Pizzas", ordem=1)
    bebidas = CategoriaFactory(tenant=tenant, nome="Bebidas", ordem=2)
    return {
        "pizzas": pizzas,
        "bebidas": bebidas,
        "margherita": ProdutoFactory(
            categoria=pizzas, nome="Pizza Margherita", preco=Decimal("49.90")
        ),
        "calabresa": ProdutoFactory(
            categoria=pizzas, nome="Pizza Calabresa", preco=Decimal("47.90")
        ),
        "suco": ProdutoFactory(categoria=bebidas, nome="Suco de Laranja", preco=Decimal("9.50")),
    }


@pytest.fixture
def queued(monkeypatch):
    """Ids queued for processing, instead of running the engine (webhook intake tests)."""
    from chatbots.tests.webhook_meta_support import record_queued

    return record_queued(monkeypatch)


@pytest.fixture
def bot(tenant):
    """A Meta bot with the webhook tests' number and secret (webhook_meta_support)."""
    from chatbots.tests.webhook_meta_support import create_bot

    return create_bot(tenant)


@pytest.fixture
def graph_bot(tenant, fake_graph):
    """A Meta bot whose sends go to the fake Graph API (the outbox and sender tests)."""
    from chatbots.models import Chatbot

    return Chatbot.objects.create(
        tenant=tenant,
        name="Padaria",
        provider="meta",
        phone_number_id="106540352242922",
        access_token="EAAG-tk",
    )


@pytest.fixture
def refusal_reasons(caplog):
    """The reasons the webhook views logged for their refusals: the answer is the same 401
    for every one (config.webhooks.unauthorized), so the tests read them where operators do."""
    caplog.set_level("INFO", logger="chatbots.webhooks")

    def reasons() -> list[str]:
        return [
            r.reason
            for r in caplog.records
            if r.name == "chatbots.webhooks" and hasattr(r, "reason")
        ]

    return reasons
