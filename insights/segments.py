"""Segments (RFM) and churn lateness for a tenant's customers, in one SQL statement.

What counts as a purchase or visit: an order confirmed and not canceled (at its
confirmation time, worth its total), an appointment attended, or confirmed and already past
(at its start, worth the service's price). The placeholder customer that erased people's
records point to (compliance.AnonymousCustomer) is left out.

Per customer: how many (`compras`), their value, the first and last, the median of the
intervals between them (intervals under a day are one visit and not counted), and the days
since the last. Lateness (`atraso`) is the days since the last over the customer's own
median interval; a customer with a single purchase is measured against the tenant's
typical interval (the median of its customers' medians), or DEFAULT_INTERVAL_DAYS when
nobody came twice. Risk band: `alto` from LOST_AFTER intervals, `medio` from LATE_AFTER,
else `baixo`.

Scores 1–5 of recency, frequency and value are the customer's percentile among the
tenant's customers (PERCENT_RANK, so equal values share a score and the lowest is 1), in
fifths. Segment, the first rule that matches:

    novos      first purchase in the last NEW_DAYS days, at most 2 purchases
    perdidos   risk alto (LOST_AFTER intervals late or more)
    em_risco   risk medio (LATE_AFTER intervals late or more)
    campeoes   recency, frequency and value 4 or 5
    fieis      frequency and recency 3 or more
    outros     the rest

The statement uses only window functions and CTEs that PostgreSQL and SQLite (the embedded
mode, 3.25 or later) both run; its query count does not depend on the number of customers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from agenda.models import Agendamento, Servico
from billing.models import Tenant
from compliance.models import AnonymousCustomer
from insights.models import PerfilCliente, Risco, Segmento
from pedidos.models import Pedido
from pedidos.status import StatusPedido

NEW_DAYS = 30
LATE_AFTER = 1.5  # intervals: a monthly customer 45 days away is "médio"
LOST_AFTER = 3.0  # intervals: the same customer 90 days away is "alto"
DEFAULT_INTERVAL_DAYS = 30.0
MIN_INTERVAL_DAYS = 1.0

PURCHASED = (
    StatusPedido.CONFIRMADO,
    StatusPedido.EM_PREPARO,
    StatusPedido.SAIU_PARA_ENTREGA,
    StatusPedido.ENTREGUE,
)


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {column})"
    return f"(julianday({column}) * 86400.0)"


def _greatest() -> str:
    return "GREATEST" if connection.vendor == "postgresql" else "MAX"


def _score(column: str) -> str:
    return (
        f"CASE WHEN {column} >= 0.8 THEN 5 WHEN {column} >= 0.6 THEN 4 "
        f"WHEN {column} >= 0.4 THEN 3 WHEN {column} >= 0.2 THEN 2 ELSE 1 END"
    )


def _sql() -> tuple[str, list[str]]:
    """The INSERT … SELECT and the order of its parameters' names."""
    purchased = ", ".join(f"'{s}'" for s in PURCHASED)
    t = {
        "perfil": PerfilCliente._meta.db_table,
        "pedido": Pedido._meta.db_table,
        "agendamento": Agendamento._meta.db_table,
        "servico": Servico._meta.db_table,
        "anon": AnonymousCustomer._meta.db_table,
    }
    s = Segmento
    sql = f"""
INSERT INTO {t["perfil"]} (
    tenant_id, cliente_id, compras, valor_total, primeira_em, ultima_em, intervalo_dias,
    intervalo_base_dias, dias_sem_comprar, atraso, r, f, m, segmento, risco, calculado_em
)
WITH eventos AS (
    SELECT p.cliente_id, COALESCE(p.confirmado_em, p.criado_em) AS em, p.total AS valor
    FROM {t["pedido"]} p
    WHERE p.tenant_id = %s AND p.status IN ({purchased})
      AND p.cliente_id NOT IN (SELECT cliente_id FROM {t["anon"]})
    UNION ALL
    SELECT a.cliente_id, a.inicio, COALESCE(sv.preco, 0)
    FROM {t["agendamento"]} a JOIN {t["servico"]} sv ON sv.id = a.servico_id
    WHERE a.tenant_id = %s
      AND (a.status = '{Agendamento.Status.CONCLUIDO}'
           OR (a.status = '{Agendamento.Status.CONFIRMADO}' AND a.inicio < %s))
      AND a.cliente_id NOT IN (SELECT cliente_id FROM {t["anon"]})
),
marcados AS (
    SELECT cliente_id, em, valor, {_epoch("em")} AS ts FROM eventos
),
intervalos AS (
    SELECT cliente_id,
           (ts - LAG(ts) OVER (PARTITION BY cliente_id ORDER BY ts)) / 86400.0 AS gap
    FROM marcados
),
ordenados AS (
    SELECT cliente_id, gap,
           ROW_NUMBER() OVER (PARTITION BY cliente_id ORDER BY gap) AS rn,
           COUNT(*) OVER (PARTITION BY cliente_id) AS n
    FROM intervalos WHERE gap >= {MIN_INTERVAL_DAYS}
),
medianas AS (
    SELECT cliente_id, AVG(gap) AS intervalo FROM ordenados
    WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY cliente_id
),
tipico_ordem AS (
    SELECT intervalo, ROW_NUMBER() OVER (ORDER BY intervalo) AS rn, COUNT(*) OVER () AS n
    FROM medianas
),
tipico AS (
    SELECT AVG(intervalo) AS intervalo FROM tipico_ordem WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
),
totais AS (
    SELECT cliente_id, COUNT(*) AS compras, SUM(valor) AS valor_total,
           MIN(em) AS primeira_em, MAX(em) AS ultima_em, (%s - MAX(ts)) / 86400.0 AS dias
    FROM marcados GROUP BY cliente_id
),
base AS (
    SELECT tt.*, m.intervalo AS intervalo_dias,
           {_greatest()}(COALESCE(m.intervalo, (SELECT intervalo FROM tipico), %s),
                         {MIN_INTERVAL_DAYS}) AS intervalo_base
    FROM totais tt LEFT JOIN medianas m ON m.cliente_id = tt.cliente_id
),
pontos AS (
    SELECT b.*, b.dias / b.intervalo_base AS atraso,
           PERCENT_RANK() OVER (ORDER BY b.ultima_em) AS pr_r,
           PERCENT_RANK() OVER (ORDER BY b.compras) AS pr_f,
           PERCENT_RANK() OVER (ORDER BY b.valor_total) AS pr_m
    FROM base b
),
notas AS (
    SELECT pt.*, {_score("pr_r")} AS r, {_score("pr_f")} AS f, {_score("pr_m")} AS m
    FROM pontos pt
)
SELECT %s, cliente_id, compras, valor_total, primeira_em, ultima_em, intervalo_dias,
       intervalo_base, dias, atraso, r, f, m,
       CASE
           WHEN primeira_em >= %s AND compras <= 2 THEN '{s.NOVOS}'
           WHEN atraso >= {LOST_AFTER} THEN '{s.PERDIDOS}'
           WHEN atraso >= {LATE_AFTER} THEN '{s.EM_RISCO}'
           WHEN r >= 4 AND f >= 4 AND m >= 4 THEN '{s.CAMPEOES}'
           WHEN f >= 3 AND r >= 3 THEN '{s.FIEIS}'
           ELSE '{s.OUTROS}'
       END,
       CASE
           WHEN atraso >= {LOST_AFTER} THEN '{Risco.ALTO}'
           WHEN atraso >= {LATE_AFTER} THEN '{Risco.MEDIO}'
           ELSE '{Risco.BAIXO}'
       END,
       %s
FROM notas
"""
    order = ["tenant", "tenant", "now", "now_ts", "default", "tenant", "new_since", "now"]
    return sql, order


def segments_refresh(*, tenant_id: int, now: datetime | None = None) -> int:
    """Rewrite the tenant's customer profiles; return how many customers have one. Two
    statements in one transaction (readers see the old rows until it commits)."""
    now = now or timezone.now()
    sql, order = _sql()
    values = {
        "tenant": tenant_id,
        "now": now,
        "now_ts": now.timestamp(),
        "default": DEFAULT_INTERVAL_DAYS,
        "new_since": now - timedelta(days=NEW_DAYS),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {PerfilCliente._meta.db_table} WHERE tenant_id = %s", [tenant_id]
        )
        cursor.execute(sql, [values[name] for name in order])
        return cursor.rowcount


def segments_refresh_all(*, now: datetime | None = None) -> int:
    """Every active tenant's profiles (the daily beat task), a transaction per tenant."""
    now = now or timezone.now()
    total = 0
    for tenant_id in Tenant.objects.filter(active=True).values_list("pk", flat=True):
        total += segments_refresh(tenant_id=tenant_id, now=now)
    return total
