"""Next best action for one customer: products to offer, services due again, and what to do,
each with why (pt-BR).

- Products bought together: in the tenant's purchased orders (insights.segments.PURCHASED)
  that hold a product the customer bought, how often another product (active, not bought
  by the customer) is in the same order; the share of those orders is the confidence.
  Without such orders, products bought by similar customers (who bought the same products).
- Services due: per service the customer had twice or more, the median interval between
  visits; due when the last visit plus that interval is within DUE_WITHIN_DAYS.
- Actions: win back (risk médio/alto in insights.models.PerfilCliente), a reminder of the
  service due, an offer of the first product; each names the bot template the tenant would
  send (purpose `reactivation`, `reminder`, `offer`) when an approved one exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from agenda.models import Agendamento
from chatbots.models import MessageTemplate
from clientes.models import Cliente
from insights import selectors
from insights.models import PerfilCliente, Risco
from insights.segments import PURCHASED
from pedidos.models import ItemPedido, Produto

LIMIT = 5
MIN_TOGETHER = 2  # orders: one shared basket is chance, not a habit
DUE_WITHIN_DAYS = 7


def _template(tenant_id: int, purpose: str) -> str | None:
    return (
        MessageTemplate.objects.filter(tenant_id=tenant_id, purpose=purpose, approved=True)
        .values_list("name", flat=True)
        .first()
    )


def _items(tenant_id: int):
    return ItemPedido.objects.filter(tenant_id=tenant_id, pedido__status__in=PURCHASED)


def products_for(*, cliente: Cliente) -> list[dict]:
    items = _items(cliente.tenant_id)
    mine = set(items.filter(pedido__cliente=cliente).values_list("produto_id", flat=True))
    if not mine:
        return []
    baskets = items.filter(produto_id__in=mine).values("pedido_id")
    n_baskets = baskets.values("pedido_id").distinct().count()
    together = (
        items.filter(pedido_id__in=baskets, produto__ativo=True)
        .exclude(produto_id__in=mine)
        .values("produto_id", "produto__nome")
        .annotate(n=Count("pedido_id", distinct=True))
        .filter(n__gte=MIN_TOGETHER)
        .order_by("-n", "produto_id")[:LIMIT]
    )
    names = ", ".join(
        Produto.objects.filter(pk__in=mine).order_by("nome").values_list("nome", flat=True)[:3]
    )
    out = [
        {
            "produto_id": row["produto_id"],
            "nome": row["produto__nome"],
            "source": "together",
            "score": round(row["n"] / n_baskets, 2),
            "why": _("Está em %(pct)d%% dos pedidos com o que o cliente compra (%(names)s).")
            % {"pct": round(100 * row["n"] / n_baskets), "names": names},
        }
        for row in together
    ]
    if out:
        return out
    similar = (
        items.filter(produto_id__in=mine)
        .exclude(pedido__cliente=cliente)
        .values("pedido__cliente_id")
        .annotate(overlap=Count("produto_id", distinct=True))
        .order_by("-overlap")[:50]
        .values("pedido__cliente_id")
    )
    n_similar = len(similar)
    bought = (
        items.filter(pedido__cliente_id__in=similar, produto__ativo=True)
        .exclude(produto_id__in=mine)
        .values("produto_id", "produto__nome")
        .annotate(n=Count("pedido__cliente_id", distinct=True))
        .filter(n__gte=MIN_TOGETHER)
        .order_by("-n", "produto_id")[:LIMIT]
    )
    return [
        {
            "produto_id": row["produto_id"],
            "nome": row["produto__nome"],
            "source": "similar",
            "score": round(row["n"] / n_similar, 2),
            "why": _("%(n)d de %(total)d clientes que compram o mesmo que ele também levam este.")
            % {"n": row["n"], "total": n_similar},
        }
        for row in bought
    ]


def services_due(*, cliente: Cliente, now: datetime | None = None) -> list[dict]:
    now = now or timezone.now()
    visits: dict[int, list] = {}
    names = {}
    for servico_id, nome, inicio in (
        Agendamento.objects.filter(
            cliente=cliente, status=Agendamento.Status.CONCLUIDO, inicio__lte=now
        )
        .order_by("inicio")
        .values_list("servico_id", "servico__nome", "inicio")
    ):
        visits.setdefault(servico_id, []).append(inicio)
        names[servico_id] = nome
    out = []
    for servico_id, times in visits.items():
        gaps = [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:], strict=False)]
        gaps = [g for g in gaps if g >= 1]
        if not gaps:
            continue
        every = median(gaps)
        due = times[-1] + timedelta(days=every)
        if due - now > timedelta(days=DUE_WITHIN_DAYS):
            continue
        out.append(
            {
                "servico_id": servico_id,
                "nome": names[servico_id],
                "every_days": round(every),
                "last_at": times[-1],
                "due_at": due,
                "why": _("Faz %(servico)s a cada %(every)d dias; a última vez foi há %(ago)d dias.")
                % {
                    "servico": names[servico_id],
                    "every": round(every),
                    "ago": (now - times[-1]).days,
                },
            }
        )
    return sorted(out, key=lambda s: s["due_at"])


def recommendations_for(*, cliente: Cliente, now: datetime | None = None) -> dict:
    perfil = PerfilCliente.objects.filter(cliente=cliente).first()
    products = products_for(cliente=cliente)
    services = services_due(cliente=cliente, now=now)
    actions = []
    if perfil is not None and perfil.risco in (Risco.MEDIO, Risco.ALTO):
        actions.append(
            {
                "kind": "winback",
                "text": _("Mandar uma mensagem de reconquista."),
                "why": selectors.churn_reason(perfil),
                "template": _template(cliente.tenant_id, "reactivation"),
            }
        )
    for service in services[:1]:
        actions.append(
            {
                "kind": "reminder",
                "text": _("Lembrar de marcar %(servico)s.") % {"servico": service["nome"]},
                "why": service["why"],
                "template": _template(cliente.tenant_id, "reminder"),
            }
        )
    for product in products[:1]:
        actions.append(
            {
                "kind": "offer",
                "text": _("Oferecer %(produto)s.") % {"produto": product["nome"]},
                "why": product["why"],
                "template": _template(cliente.tenant_id, "offer"),
            }
        )
    return {
        "cliente": cliente.pk,
        "segment": None
        if perfil is None
        else {"code": perfil.segmento, "label": perfil.get_segmento_display()},
        "churn": None
        if perfil is None
        else {
            "risk": perfil.risco,
            "label": perfil.get_risco_display(),
            "why": selectors.churn_reason(perfil),
        },
        "products": products,
        "services": services,
        "actions": actions,
    }
