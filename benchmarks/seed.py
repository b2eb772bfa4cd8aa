"""The benchmark's database: schema, one tenant with two Meta bots, and appointments at scale.

Runs inside the harness process once Stack.activate_here() pointed Django at the stack.
Everything goes through the product's own services (tenant_create, chatbot_create,
flow_install, catalogo_demo), like `create_tenant` + `bind_tenant --flow` would.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

MENU_PNID = "100000001"
ORDER_PNID = "100000002"
PEER_PNID = "100000009"
APP_SECRET = "bench-app-secret-0123456789abcdef"
ACCESS_TOKEN = "bench-access-token"
REMINDER_TEMPLATE = "lembrete_horario"


@dataclass
class Seeded:
    tenant_id: int
    menu_bot_id: int
    order_bot_id: int
    menu_pnid: str = MENU_PNID
    order_pnid: str = ORDER_PNID
    peer_pnid: str = PEER_PNID
    app_secret: str = APP_SECRET
    schema: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class _NoMigrations(dict):
    """MIGRATION_MODULES that hides every app's migrations (pytest-django's --nomigrations)."""

    def __contains__(self, item) -> bool:
        return True

    def __getitem__(self, item):
        return None


def schema_create() -> str:
    """Create the tables. With the repository's migrations when they match the models;
    otherwise (models changed and the migrations are regenerated later, as during
    development) straight from the models, like `QUICK=1 ./run_tests.sh`. Returns which."""
    from django.conf import settings
    from django.core.management import call_command

    try:
        call_command("makemigrations", check=True, dry_run=True, verbosity=0)
        pending = False
    except SystemExit:
        pending = True
    if pending:
        settings.MIGRATION_MODULES = _NoMigrations()
        call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
        return "built from the models (migrations out of date: QUICK mode's way)"
    call_command("migrate", verbosity=0, interactive=False)
    return "migrations"


def seed() -> Seeded:
    """Tenant `bench` on an uncapped plan; a Meta bot with the menu flow and one with the
    order flow and the demo catalog; an approved reminder template."""
    from billing.models import Plan
    from billing.services import tenant_create
    from chatbots import bots, starter_flows
    from chatbots.models import MessageTemplate
    from pedidos import checkout
    from pedidos.demo import catalogo_demo

    plan, _ = Plan.objects.get_or_create(
        name="Benchmark",
        defaults={"max_messages_per_month": 0, "max_chatbots": 10, "max_staff": 10},
    )
    tenant = tenant_create(slug="bench", name="Loja Benchmark", plan_name=plan.name).tenant
    common = {
        "provider": "meta",
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        # Meta's upgraded tier (1,000/s): the benchmark measures our path, not the
        # governor that keeps a default number under its 80/s (chatbots.ratelimit).
        "messages_per_second": 1000,
    }
    menu = bots.chatbot_create(tenant=tenant, name="Menu", phone_number_id=MENU_PNID, **common)
    starter_flows.flow_install(chatbot=menu, flow="menu")
    order = bots.chatbot_create(tenant=tenant, name="Pedidos", phone_number_id=ORDER_PNID, **common)
    catalogo_demo(tenant=tenant)
    # The demo store keeps opening hours; the benchmark orders at any hour it runs.
    checkout.configuracao_save(tenant=tenant, horarios={})
    starter_flows.flow_install(chatbot=order, flow="pedidos")
    MessageTemplate.objects.create(
        tenant=tenant,
        chatbot=menu,
        name=REMINDER_TEMPLATE,
        language="pt_BR",
        param_count=4,
        purpose="reminder",
        approved=True,
    )
    return Seeded(tenant_id=tenant.pk, menu_bot_id=menu.pk, order_bot_id=order.pk)


# --- Appointments at scale (the reminder job) ----------------------------------------------

FILLER_TENANTS = 200  # the table holds every tenant's history, not one's


def appointments_generate(*, total: int, due: int, seeded: Seeded) -> dict:
    """Fill agenda_agendamento up to `total` rows of which `due` have their 24 h reminder
    due now (and a tenth of that their 1 h reminder), with INSERT ... SELECT
    generate_series. The rest is what a busy table holds: concluded, cancelled and no-show
    history (reminders long sent) and future active bookings beyond 24 h, spread over
    FILLER_TENANTS tenants without overlapping (the exclusion constraint holds)."""
    from django.db import connection

    from agenda.models import Agendamento, Servico
    from clientes.models import Cliente

    started = time.monotonic()
    t_agend = Agendamento._meta.db_table
    t_cli = Cliente._meta.db_table
    t_serv = Servico._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {t_agend}")
        existing = cur.fetchone()[0]
        filler = max(total - existing - due - due // 10, 0)
        tenant_ids = _filler_tenants(cur, seeded)
        # One service and 50 customers per filler tenant.
        servicos = _servicos(cur, tenant_ids, t_serv)
        clientes = _clientes(cur, tenant_ids, t_cli)
        # History (70 %): in the past, not active, reminders sent.
        # Future active (30 %): from 3 days ahead, one 30-minute slot after another per tenant.
        history = filler * 7 // 10
        future = filler - history
        n_t = len(tenant_ids)
        cols = _agend_columns()
        # A second call continues the first one's sequence (g from the rows already there),
        # so the future bookings of a tenant never overlap.
        cur.execute(
            f"SELECT count(*) FILTER (WHERE status IN ('pendente', 'confirmado')), "
            f"count(*) FILTER (WHERE status NOT IN ('pendente', 'confirmado')) "
            f"FROM {t_agend} WHERE tenant_id = ANY(%s)",
            [tenant_ids],
        )
        future_before, history_before = cur.fetchone()
        pick = (
            f"(%s::bigint[])[1 + mod(g, {n_t})], (%s::bigint[])[1 + mod(g, {len(clientes)})], "
            f"(%s::bigint[])[1 + mod(g, {n_t})]"
        )
        slot = f"(g / {n_t}) * interval '30 minutes'"
        cur.execute(
            f"""
            INSERT INTO {t_agend} ({cols})
            SELECT {pick},
                   now() - interval '3 days' - {slot},
                   now() - interval '3 days' - {slot} + interval '30 minutes',
                   (ARRAY['concluido', 'cancelado', 'nao_compareceu'])[1 + mod(g, 3)],
                   'chat', '', now(), now(), CASE WHEN mod(g, 3) = 0 THEN now() END,
                   CASE mod(g, 3) WHEN 0 THEN true WHEN 2 THEN false END, '', now(), now()
            FROM generate_series(%s, %s - 1) AS g
            """,
            [tenant_ids, clientes, servicos, history_before, history_before + history],
        )
        cur.execute(
            f"""
            INSERT INTO {t_agend} ({cols})
            SELECT {pick},
                   date_trunc('hour', now()) + interval '3 days' + {slot},
                   date_trunc('hour', now()) + interval '3 days' + {slot} + interval '30 minutes',
                   (ARRAY['pendente', 'confirmado'])[1 + mod(g, 2)],
                   'chat', '', NULL, NULL, NULL, NULL, '', now(), now()
            FROM generate_series(%s, %s - 1) AS g
            """,
            [tenant_ids, clientes, servicos, future_before, future_before + future],
        )
        cur.execute(f"ANALYZE {t_agend}")
        cur.execute(f"SELECT count(*) FROM {t_agend}")
        rows = cur.fetchone()[0]
    due_ids = _due_generate(seeded=seeded, due=due)
    return {"rows": rows, "due": len(due_ids), "seconds": time.monotonic() - started}


def _agend_columns() -> str:
    return (
        "tenant_id, cliente_id, servico_id, inicio, fim, status, origem, cal_booking_uid, "
        "lembrete_24h_enviado_em, lembrete_1h_enviado_em, followup_enviado_em, compareceu, "
        "observacoes, criado_em, atualizado_em"
    )


def _filler_tenants(cur, seeded: Seeded) -> list[int]:
    cur.execute("SELECT id FROM billing_tenant WHERE slug LIKE 'filler-%%' ORDER BY id")
    ids = [r[0] for r in cur.fetchall()]
    if ids:
        return ids
    from billing.models import Tenant

    Tenant.objects.bulk_create(
        [Tenant(slug=f"filler-{i:03d}", name=f"Filler {i}") for i in range(FILLER_TENANTS)]
    )
    cur.execute("SELECT id FROM billing_tenant WHERE slug LIKE 'filler-%%' ORDER BY id")
    return [r[0] for r in cur.fetchall()]


def _servicos(cur, tenant_ids: list[int], table: str) -> list[int]:
    from agenda.models import Servico

    existing = list(
        Servico.objects.filter(tenant_id__in=tenant_ids)
        .order_by("tenant_id")
        .values_list("id", flat=True)
    )
    if existing:
        return existing
    Servico.objects.bulk_create(
        [Servico(tenant_id=t, nome="Corte", duracao_minutos=30) for t in tenant_ids]
    )
    return list(
        Servico.objects.filter(tenant_id__in=tenant_ids)
        .order_by("tenant_id")
        .values_list("id", flat=True)
    )


def _clientes(cur, tenant_ids: list[int], table: str) -> list[int]:
    """50 customers per filler tenant; index i serves tenant i % len(tenant_ids)."""
    from clientes.models import Cliente

    existing = list(
        Cliente.objects.filter(tenant_id__in=tenant_ids).order_by("id").values_list("id", flat=True)
    )
    if not existing:
        Cliente.objects.bulk_create(
            [
                Cliente(tenant_id=t, nome=f"Cliente {k}", telefone=f"55119{k:04d}{i:04d}")
                for k in range(50)
                for i, t in enumerate(tenant_ids)
            ],
            batch_size=2000,
        )
    # Order so that position p belongs to tenant_ids[p % n]: created k-major, i-minor.
    rows = Cliente.objects.filter(tenant_id__in=tenant_ids).values_list("id", "tenant_id")
    by_tenant: dict[int, list[int]] = {}
    for cid, tid in rows.order_by("id"):
        by_tenant.setdefault(tid, []).append(cid)
    return [by_tenant[t][k] for k in range(50) for t in tenant_ids]


def _due_generate(*, seeded: Seeded, due: int) -> list[int]:
    """Make the bench tenant hold `due` appointments whose 24 h reminder is due now (one in
    ten, up to 25, starting within the hour: their 1 h reminder is due too), each for its own
    customer. A later call with a larger `due` adds the difference. Appointments last one
    minute, two minutes apart, so calls a few seconds apart never overlap (the exclusion
    constraint)."""
    from datetime import timedelta

    from django.utils import timezone

    from agenda.models import Agendamento, Servico
    from clientes.models import Cliente

    existing = Agendamento.objects.filter(tenant_id=seeded.tenant_id).count()
    if existing >= due:
        return list(
            Agendamento.objects.filter(tenant_id=seeded.tenant_id).values_list("id", flat=True)
        )
    servico, _ = Servico.objects.get_or_create(
        tenant_id=seeded.tenant_id, nome="Consulta", defaults={"duracao_minutos": 30}
    )
    now = timezone.now()
    new = range(existing, due)
    clientes = Cliente.objects.bulk_create(
        [
            Cliente(tenant_id=seeded.tenant_id, nome=f"Agendado {i}", telefone=f"55219{i:08d}")
            for i in new
        ]
    )
    rows = []
    for i, cliente in zip(new, clientes, strict=True):
        if i % 10 == 0 and i < 250:
            start = now + timedelta(minutes=3 + 2 * (i // 10))  # within the hour
        else:
            start = now + timedelta(hours=2, minutes=2 * i)  # within 24 hours
        rows.append(
            Agendamento(
                tenant_id=seeded.tenant_id,
                cliente=cliente,
                servico=servico,
                inicio=start,
                fim=start + timedelta(minutes=1),
                status=Agendamento.Status.CONFIRMADO,
                origem=Agendamento.Origem.CHAT,
            )
        )
    Agendamento.objects.bulk_create(rows)
    return list(Agendamento.objects.filter(tenant_id=seeded.tenant_id).values_list("id", flat=True))


def reminders_reset(*, seeded: Seeded) -> None:
    """Make the bench tenant's reminders due again (between two timed runs)."""
    from agenda.models import Agendamento

    Agendamento.objects.filter(tenant_id=seeded.tenant_id).update(
        lembrete_24h_enviado_em=None, lembrete_1h_enviado_em=None
    )
