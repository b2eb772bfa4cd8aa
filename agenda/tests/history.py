"""A generated appointment history with a known structure, for the no-show model's tests:
no-shows depend on the lead time (booked long before: more likely) and on the customer's
confirmation (confirmed: rarely), plus a few customers who often miss."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from agenda.models import Agendamento
from agenda.tests.conftest import AGORA
from clientes.models import Cliente


def falta_probability(*, lead_days: float, confirmed: bool, faltoso: bool) -> float:
    logit = -1.6 + 1.8 * (lead_days > 7) + 0.9 * (lead_days > 20) - 2.6 * confirmed
    return float(1 / (1 + np.exp(-(logit + 1.2 * faltoso))))


def generate(tenant, servico, *, n: int = 1600, clientes: int = 120, seed: int = 24):
    """`n` finished appointments of `clientes` customers over the 200 days before AGORA,
    one at a time (no overlap), oldest first. Returns the appointments."""
    rng = np.random.default_rng(seed)
    pessoas = Cliente.objects.bulk_create(
        Cliente(tenant=tenant, nome=f"Cliente {i}", telefone=f"55219{i:08d}")
        for i in range(clientes)
    )
    faltosos = set(rng.choice(clientes, size=clientes // 6, replace=False).tolist())
    inicio0 = AGORA - timedelta(days=200)
    rows, extra = [], []
    for k in range(n):
        quem = int(rng.integers(clientes))
        inicio = inicio0 + timedelta(hours=3 * k)
        lead_days = float(rng.choice([rng.uniform(0, 7), rng.uniform(7, 35)]))
        confirmed = bool(rng.random() < 0.55)
        missed = rng.random() < falta_probability(
            lead_days=lead_days, confirmed=confirmed, faltoso=quem in faltosos
        )
        rows.append(
            Agendamento(
                tenant=tenant,
                cliente=pessoas[quem],
                servico=servico,
                inicio=inicio,
                fim=inicio + timedelta(minutes=servico.duracao_minutos),
                status="nao_compareceu" if missed else "concluido",
                compareceu=not missed,
                origem="chat",
                confirmado_em=inicio - timedelta(hours=20) if confirmed else None,
            )
        )
        extra.append(inicio - timedelta(days=lead_days))
    Agendamento.objects.bulk_create(rows, batch_size=1000)
    # auto_now_add set the booking time to now: put the generated one back.
    for row, criado in zip(rows, extra, strict=True):
        row.criado_em = criado
    Agendamento.objects.bulk_update(rows, ["criado_em"], batch_size=1000)
    return rows
