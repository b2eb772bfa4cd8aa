"""Reads of the customer profiles (insights.segments writes them) and NPS by month.

NPS from the satisfaction surveys (campaigns.Survey, scores 1–5): the 0–10 question's bands
(promoters 9–10, passives 7–8, detractors 0–6; Bain's definition,
https://www.netpromotersystem.com/about/measuring-your-net-promoter-score/) mapped linearly
onto 1–5 (1→0, 2→2.5, 3→5, 4→7.5, 5→10): 5 is a promoter, 4 a passive, 1–3 detractors. The
three-button survey stores Ótimo 5, Regular 3, Ruim 1 (campaigns.surveys), so "Regular" is a
detractor, as a 5 of 10 is. NPS = % promoters − % detractors (−100 to 100).
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from campaigns.models import Survey
from insights.models import PerfilCliente, Risco, Segmento

WINBACK_LIMIT = 20


def segment_counts(*, tenant_id: int) -> list[dict]:
    """Each segment's label, customers and value, in Segmento's order."""
    rows = {
        row["segmento"]: row
        for row in PerfilCliente.objects.filter(tenant_id=tenant_id)
        .values("segmento")
        .annotate(clientes=Count("pk"), valor=Sum("valor_total"))
        .order_by()
    }
    return [
        {
            "code": code,
            "label": label,
            "clientes": rows.get(code, {}).get("clientes", 0),
            "valor": rows.get(code, {}).get("valor") or 0,
        }
        for code, label in Segmento.choices
    ]


def churn_ranking(*, tenant_id: int) -> QuerySet[PerfilCliente]:
    """Every customer with history, the latest against their own interval first."""
    return (
        PerfilCliente.objects.filter(tenant_id=tenant_id)
        .select_related("cliente")
        .order_by("-atraso", "pk")
    )


def winback_list(*, tenant_id: int, limit: int = WINBACK_LIMIT) -> list[PerfilCliente]:
    """Who to win back this week: late (risk médio or alto), still reachable (not opted
    out), the most valuable first."""
    return list(
        churn_ranking(tenant_id=tenant_id)
        .filter(risco__in=[Risco.MEDIO, Risco.ALTO], cliente__optout_em__isnull=True)
        .order_by("-valor_total", "-atraso", "pk")[:limit]
    )


def churn_reason(perfil: PerfilCliente) -> str:
    """Why the customer has their risk band, in pt-BR."""
    values = {
        "dias": round(perfil.dias_sem_comprar),
        "intervalo": round(perfil.intervalo_base_dias),
        "vezes": f"{perfil.atraso:.1f}".replace(".", ","),
    }
    if perfil.intervalo_dias is None:
        return (
            _(
                "Comprou ou veio uma vez só, há %(dias)d dias; os clientes costumam voltar "
                "em %(intervalo)d dias (%(vezes)s× esse prazo)."
            )
            % values
        )
    return (
        _(
            "Costuma voltar a cada %(intervalo)d dias; a última vez foi há %(dias)d dias "
            "(%(vezes)s× o intervalo habitual)."
        )
        % values
    )


def nps_by_month(*, tenant_id: int) -> list[dict]:
    """Per month of answer (the project's time zone), oldest first: promoters, passives,
    detractors, answers and the NPS (None without answers)."""
    rows = (
        Survey.objects.filter(tenant_id=tenant_id, score__isnull=False)
        .annotate(month=TruncMonth("answered_at"))
        .exclude(month=None)
        .values("month")
        .annotate(
            promoters=Count("pk", filter=Q(score=5)),
            passives=Count("pk", filter=Q(score=4)),
            detractors=Count("pk", filter=Q(score__lte=3)),
            answers=Count("pk"),
        )
        .order_by("month")
    )
    out = []
    for row in rows:
        n = row["answers"]
        row["nps"] = round(100 * (row["promoters"] - row["detractors"]) / n) if n else None
        out.append(row)
    return out
