from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clientes.models import Cliente
from tests.factories import ChatbotFactory, MessageTemplateFactory

SP = ZoneInfo("America/Sao_Paulo")
MONDAY_TEN = datetime(2030, 5, 6, 10, 0, tzinfo=SP)


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(tenant=tenant, name="Loja", messaging_limit_tier="TIER_1K")


@pytest.fixture
def promo(bot):
    return MessageTemplateFactory(
        chatbot=bot, name="promo_maio", param_count=1, category="MARKETING"
    )


def customers(tenant, n: int, *, start: int = 0, **fields) -> list[Cliente]:
    return Cliente.objects.bulk_create(
        [
            Cliente(tenant=tenant, nome=f"Cliente {i}", telefone=f"5511970{i:06d}", **fields)
            for i in range(start, start + n)
        ]
    )


@pytest.fixture
def clock():
    import time_machine

    with time_machine.travel(MONDAY_TEN, tick=False) as traveller:
        yield traveller
