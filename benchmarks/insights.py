"""`python -m benchmarks.insights`: the customer segments' refresh for one tenant of 100,000
customers (insights.segments.segments_refresh), on a throwaway PostgreSQL with fsync.

    python -m benchmarks.insights                   # 100,000 customers, ~4 orders each
    python -m benchmarks.insights --customers 5000  # a smoke run, to benchmarks/.work/

The history is generated in SQL (generate_series): customer i orders every 3 + i % 40 days,
1 + i % 8 times, the last one i % 200 days ago. The figures (time per run, statements, rows)
go to a section of benchmarks/RESULTS.md of their own (report.INSIGHTS_START .. _END), which
the other benchmarks keep when they rewrite the file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import markdown, report, seed, stack


def _seed(customers: int) -> int:
    from django.db import connection

    from billing.services import tenant_create
    from pedidos.status import StatusPedido

    tenant = tenant_create(slug="insights", name="Loja Insights").tenant
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO clientes_cliente (tenant_id, nome, telefone, wa_id, whatsapp_user_id,"
            " tags, idioma, criado_em, atualizado_em)"
            " SELECT %s, 'Cliente ' || i, '5511' || lpad(i::text, 9, '0'), '', '', '[]', '',"
            " now(), now() FROM generate_series(1, %s) i",
            [tenant.pk, customers],
        )
        cursor.execute(
            "INSERT INTO pedidos_pedido (tenant_id, cliente_id, status, total, observacoes,"
            " modo_entrega, endereco_entrega, bairro, forma_pagamento, taxa_entrega,"
            " criado_em, atualizado_em, confirmado_em)"
            " SELECT c.tenant_id, c.id, %s, 20 + (c.id %% 50), '', '', '', '', '', 0, now(),"
            " now(), now() - ((c.id %% 200) + k * (3 + c.id %% 40)) * interval '1 day'"
            " FROM clientes_cliente c, generate_series(0, 7) k"
            " WHERE c.tenant_id = %s AND k <= c.id %% 8",
            [StatusPedido.ENTREGUE, tenant.pk],
        )
        cursor.execute("ANALYZE")
    return tenant.pk


def run(customers: int, runs: int) -> dict:
    bench = stack.Stack()
    try:
        bench.start_servers()
        bench.activate_here()
        seed.schema_create()
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from insights import segments
        from pedidos.models import Pedido

        t = time.monotonic()
        tenant_id = _seed(customers)
        seeded = time.monotonic() - t
        orders = Pedido.objects.filter(tenant_id=tenant_id).count()
        times, statements, rows = [], 0, 0
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                t = time.monotonic()
                rows = segments.segments_refresh(tenant_id=tenant_id)
                times.append(time.monotonic() - t)
            statements = len(queries.captured_queries)
        return {
            "customers": customers,
            "orders": orders,
            "rows": rows,
            "seed_s": seeded,
            "times": times,
            "statements": statements,
            "machine": report.machine(),
        }
    finally:
        bench.stop()


def section(figures: dict, started: datetime) -> str:
    times = figures["times"]
    lines = [
        report.INSIGHTS_START,
        "## 8. Customer segments (insights)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC by `python -m benchmarks.insights`: one tenant, "
        f"{figures['customers']:,} customers, {figures['orders']:,} orders; PostgreSQL with "
        "fsync on this machine (2 shared cores). `segments_refresh` rewrites every "
        "customer's profile (RFM scores, median interval, lateness, segment, risk) in one "
        "transaction.",
        "",
        markdown.table(
            ["figure", "value"],
            [
                ["profiles written", f"{figures['rows']:,}"],
                ["statements (any size)", figures["statements"]],
                ["refresh, median of runs", f"{statistics.median(times):.2f} s"],
                ["refresh, each run", ", ".join(f"{t:.2f} s" for t in times)],
            ],
        ),
        report.INSIGHTS_END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.insights")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", default="")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    figures = run(args.customers, args.runs)
    text = section(figures, started)
    output = Path(
        args.output
        or (report.RESULTS if args.customers >= 100_000 else stack.WORK / "RESULTS-insights.md")
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    report.write_section(text, start=report.INSIGHTS_START, end=report.INSIGHTS_END, path=output)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
