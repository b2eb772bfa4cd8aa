"""No-show risk: how likely a customer is to miss an appointment, learned from the tenant's
own history, and the extra confirmation request that goes to the likely ones.

The features of an appointment, read in SQL (one query for a whole set of appointments):
the customer's earlier no-shows and attendances, the lead time (booked → start), the local
weekday and part of the day, and whether the customer confirmed. A logistic regression
(scikit-learn: https://scikit-learn.org/stable/modules/linear_model.html#logistic-regression)
is fitted per tenant every night on its finished appointments (attended or missed) and
stored as plain numbers in ModeloFalta; scoring is a dot product and needs no pickle.
A tenant with too little history gets its base rate (the share of missed appointments).

Upcoming appointments are scored by a periodic job; a pending (unconfirmed) one whose risk
reaches AGENDA_NO_SHOW_HIGH_RISK gets one extra confirmation request ("Confirmo" /
"Preciso remarcar") between 48 and 2 hours before it starts, through the reminders' path
(agenda.notifications.confirmacao_extra_send: the 24-hour window and its template).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from agenda import notifications
from agenda.availability import tenant_time_zone
from agenda.models import Agendamento, ModeloFalta
from billing.models import Tenant

logger = logging.getLogger(__name__)

# Fewer finished appointments than this, or fewer of either outcome, and a fitted model
# would learn noise: the base rate is used instead.
MIN_AMOSTRAS = 60
MIN_POR_CLASSE = 10
# The share of the most recent history held out to measure the model (its AUC is stored).
VALIDACAO = 0.25
HISTORICO = timedelta(days=365)
# Upcoming appointments scored by the periodic job, and when the extra request may go.
HORIZONTE = timedelta(hours=48)
ANTECEDENCIA_MINIMA = timedelta(hours=2)

FEATURES = (
    "faltas_anteriores",  # log(1 + n)
    "presencas_anteriores",  # log(1 + n)
    "taxa_faltas_cliente",  # (faltas + 1) / (faltas + presenças + 2)
    "antecedencia_horas",  # log(1 + hours from booking to start)
    "confirmou",
    *(f"dia_{d}" for d in range(1, 8)),  # ISO weekday, one-hot
    "manha",
    "tarde",
    "noite",
)
FINISHED = (Agendamento.Status.CONCLUIDO, Agendamento.Status.NAO_COMPARECEU)


# --- features ---------------------------------------------------------------------------


def _earlier(status: str) -> Coalesce:
    """How many appointments of this status the customer had before this one started."""
    earlier = (
        Agendamento.objects.filter(
            cliente_id=OuterRef("cliente_id"), inicio__lt=OuterRef("inicio"), status=status
        )
        .order_by()
        .values("cliente_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(earlier, output_field=IntegerField()), Value(0))


def _feature_rows(qs: QuerySet[Agendamento], *, tenant: Tenant, agora: datetime | None):
    """(id, faltas, presenças, lead time, confirmed, weekday, hour, status) per appointment.
    With `agora`, a confirmation counts only when it happened by then (scoring); without,
    when it happened before the start (training)."""
    fuso = tenant_time_zone(tenant)
    confirmed_by = F("inicio") if agora is None else Value(agora)
    return qs.annotate(
        f_faltas=_earlier(Agendamento.Status.NAO_COMPARECEU),
        f_presencas=_earlier(Agendamento.Status.CONCLUIDO),
        f_lead=ExpressionWrapper(F("inicio") - F("criado_em"), output_field=DurationField()),
        f_confirmou=Case(
            When(confirmado_em__isnull=False, confirmado_em__lte=confirmed_by, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        f_dia=ExtractIsoWeekDay("inicio", tzinfo=fuso),
        f_hora=ExtractHour("inicio", tzinfo=fuso),
    ).values_list(
        "id", "f_faltas", "f_presencas", "f_lead", "f_confirmou", "f_dia", "f_hora", "status"
    )


def _vector(faltas: int, presencas: int, lead: timedelta, confirmou: int, dia: int, hora: int):
    horas = max(lead.total_seconds() / 3600, 0.0) if lead is not None else 0.0
    return [
        math.log1p(faltas),
        math.log1p(presencas),
        (faltas + 1) / (faltas + presencas + 2),
        math.log1p(horas),
        float(confirmou),
        *(1.0 if dia == d else 0.0 for d in range(1, 8)),
        1.0 if hora < 12 else 0.0,
        1.0 if 12 <= hora < 18 else 0.0,
        1.0 if hora >= 18 else 0.0,
    ]


def features(
    qs: QuerySet[Agendamento], *, tenant: Tenant, agora: datetime | None = None
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The appointments' ids, feature matrix (FEATURES order) and labels (1 = missed)."""
    ids, rows, labels = [], [], []
    for pk, faltas, presencas, lead, confirmou, dia, hora, status in _feature_rows(
        qs, tenant=tenant, agora=agora
    ):
        ids.append(pk)
        rows.append(_vector(faltas, presencas, lead, confirmou, dia, hora))
        labels.append(1 if status == Agendamento.Status.NAO_COMPARECEU else 0)
    matrix = np.asarray(rows, dtype=float).reshape(len(rows), len(FEATURES))
    return ids, matrix, np.asarray(labels, dtype=int)


def history(*, tenant: Tenant, ate: datetime | None = None) -> QuerySet[Agendamento]:
    """The tenant's finished appointments (attended or missed) of the HISTORICO before
    `ate`, oldest first: what the model learns from (a year keeps the nightly fit bounded
    and follows how the business changes)."""
    ate = ate or timezone.now()
    return Agendamento.objects.filter(
        tenant=tenant, status__in=FINISHED, inicio__lt=ate, inicio__gte=ate - HISTORICO
    ).order_by("inicio", "id")


# --- fitting and scoring ----------------------------------------------------------------


def fit_params(x: np.ndarray, y: np.ndarray) -> dict:
    """A standardized logistic regression on (x, y), as JSON-ready numbers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(max_iter=1000)
    model.fit(scaler.transform(x), y)
    # A feature that never varies has scale 0; StandardScaler stores 1 for it.
    return {
        "features": list(FEATURES),
        "media": scaler.mean_.tolist(),
        "escala": scaler.scale_.tolist(),
        "coeficientes": model.coef_[0].tolist(),
        "intercepto": float(model.intercept_[0]),
    }


def predict(params: dict, x: np.ndarray) -> np.ndarray:
    """Probabilities of a no-show for the rows of `x`, from fit_params' numbers."""
    z = (x - np.asarray(params["media"])) / np.asarray(params["escala"])
    logit = z @ np.asarray(params["coeficientes"]) + params["intercepto"]
    return 1.0 / (1.0 + np.exp(-logit))


def _enough(y: np.ndarray) -> bool:
    faltas = int(y.sum())
    return len(y) >= MIN_AMOSTRAS and min(faltas, len(y) - faltas) >= MIN_POR_CLASSE


def modelo_fit(*, tenant: Tenant, agora: datetime | None = None) -> ModeloFalta:
    """Fit (or replace) the tenant's model on its history; the base rate when it is short.

    The most recent VALIDACAO of the history is held out first to measure the model (AUC,
    scikit-learn's roc_auc_score); the stored model is then fitted on all of it.
    """
    from sklearn.metrics import roc_auc_score

    agora = agora or timezone.now()
    _ids, x, y = features(history(tenant=tenant, ate=agora), tenant=tenant)
    taxa = float(y.mean()) if len(y) else 0.0
    campos = {"taxa_base": taxa, "amostras": len(y), "ajustado_em": agora, "auc": None}
    if _enough(y):
        corte = int(len(y) * (1 - VALIDACAO))
        if _enough(y[:corte]) and 0 < y[corte:].sum() < len(y) - corte:
            parcial = fit_params(x[:corte], y[:corte])
            campos["auc"] = float(roc_auc_score(y[corte:], predict(parcial, x[corte:])))
        campos.update(tipo=ModeloFalta.Tipo.LOGISTICA, parametros=fit_params(x, y))
    else:
        campos.update(tipo=ModeloFalta.Tipo.TAXA_BASE, parametros={})
    modelo, _created = ModeloFalta.objects.update_or_create(tenant=tenant, defaults=campos)
    logger.info(
        "no-show model fitted",
        extra={"tenant": tenant.pk, "tipo": modelo.tipo, "amostras": modelo.amostras},
    )
    return modelo


def modelos_fit(*, agora: datetime | None = None) -> int:
    """The nightly job: refit every active tenant that has appointments."""
    tenants = Tenant.objects.filter(active=True, pk__in=Agendamento.objects.values("tenant_id"))
    return sum(1 for tenant in tenants if modelo_fit(tenant=tenant, agora=agora))


def risco_score(
    *, tenant: Tenant, agendamentos: QuerySet[Agendamento], agora: datetime | None = None
) -> dict[int, float]:
    """Score appointments of `tenant` with its model (fitted now if it has none yet) and
    store the risk on each. Returns {id: risk}."""
    agora = agora or timezone.now()
    modelo = ModeloFalta.objects.filter(tenant=tenant).first() or modelo_fit(
        tenant=tenant, agora=agora
    )
    ids, x, _y = features(agendamentos.filter(tenant=tenant), tenant=tenant, agora=agora)
    if not ids:
        return {}
    if modelo.tipo == ModeloFalta.Tipo.LOGISTICA:
        riscos = predict(modelo.parametros, x).tolist()
    else:
        riscos = [modelo.taxa_base] * len(ids)
    rows = [Agendamento(pk=pk, risco_falta=round(r, 4)) for pk, r in zip(ids, riscos, strict=True)]
    Agendamento.objects.bulk_update(rows, ["risco_falta"], batch_size=500)
    return {row.pk: row.risco_falta for row in rows}


def _upcoming(agora: datetime) -> QuerySet[Agendamento]:
    return Agendamento.objects.filter(
        status__in=Agendamento.ATIVOS,
        inicio__gt=agora,
        inicio__lte=agora + HORIZONTE,
        tenant__active=True,
    )


def high_risk_threshold() -> float:
    return settings.AGENDA_NO_SHOW_HIGH_RISK


def confirmacao_due(*, agora: datetime) -> QuerySet[Agendamento]:
    """Pending appointments at high risk, 48 to 2 hours ahead, not yet asked for the extra
    confirmation. Reads agenda_confirmacao_extra_idx."""
    return (
        Agendamento.objects.filter(
            confirmacao_extra_enviada_em__isnull=True,
            status=Agendamento.Status.PENDENTE,
            inicio__gt=agora + ANTECEDENCIA_MINIMA,
            inicio__lte=agora + HORIZONTE,
            risco_falta__gte=high_risk_threshold(),
            tenant__active=True,
        )
        .select_related("tenant", "cliente", "servico")
        .order_by("inicio")
    )


def tenants_upcoming(agora: datetime) -> Iterable[Tenant]:
    return Tenant.objects.filter(pk__in=_upcoming(agora).values("tenant_id"))


def risco_process(*, agora: datetime | None = None) -> dict[str, int]:
    """The periodic job: score the next 48 hours' appointments, then send the extra
    confirmation request to the pending ones at high risk (once each)."""
    agora = agora or timezone.now()
    scored = sum(
        len(risco_score(tenant=tenant, agendamentos=_upcoming(agora), agora=agora))
        for tenant in tenants_upcoming(agora)
    )
    sent = sum(
        notifications.confirmacao_extra_send(agendamento=agendamento, now=agora)
        for agendamento in confirmacao_due(agora=agora)
    )
    return {"avaliados": scored, "confirmacoes": sent}
