"""The no-show model: fitted on a tenant's own history, measured on a held-out part."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from agenda import noshow
from agenda.models import Agendamento, ModeloFalta
from agenda.tests import history
from agenda.tests.conftest import AGORA, marcar
from tests.factories import ClienteFactory


def test_the_fitted_model_beats_the_base_rate_on_held_out_history(
    tenant, servico, django_assert_max_num_queries
):
    history.generate(tenant, servico)
    corte = AGORA - timedelta(days=50)  # the last quarter of the 200 days is held out
    with django_assert_max_num_queries(2):
        _ids, x_train, y_train = noshow.features(
            noshow.history(tenant=tenant, ate=corte), tenant=tenant
        )
    _ids, x_test, y_test = noshow.features(
        noshow.history(tenant=tenant, ate=AGORA).filter(inicio__gte=corte), tenant=tenant
    )
    assert len(y_train) > 1000 and 0.15 < y_test.mean() < 0.6

    params = noshow.fit_params(x_train, y_train)
    auc = roc_auc_score(y_test, noshow.predict(params, x_test))
    base_rate = roc_auc_score(y_test, np.full(len(y_test), y_train.mean()))
    print(f"no-show model: AUC {auc:.3f} on {len(y_test)} held-out appointments (base rate 0.5)")

    assert auc >= 0.75
    assert base_rate == 0.5
    modelo = noshow.modelo_fit(tenant=tenant, agora=AGORA)
    assert modelo.tipo == ModeloFalta.Tipo.LOGISTICA
    assert modelo.auc >= 0.75
    assert modelo.amostras == 1600
    assert modelo.parametros["features"] == list(noshow.FEATURES)


def test_confirming_and_booking_close_to_the_day_lower_the_risk(agora, tenant, servico):
    history.generate(tenant, servico, n=800)
    noshow.modelo_fit(tenant=tenant, agora=AGORA)
    maria, joao = ClienteFactory(tenant=tenant), ClienteFactory(tenant=tenant)
    longe = marcar(tenant, maria, servico, AGORA + timedelta(hours=30), status="pendente")
    perto = marcar(
        tenant,
        joao,
        servico,
        AGORA + timedelta(hours=26),
        status="confirmado",
        confirmado_em=AGORA - timedelta(hours=1),
    )
    Agendamento.objects.filter(pk=longe.pk).update(criado_em=AGORA - timedelta(days=25))
    Agendamento.objects.filter(pk=perto.pk).update(criado_em=AGORA - timedelta(days=1))

    riscos = noshow.risco_score(
        tenant=tenant, agendamentos=Agendamento.objects.filter(inicio__gt=AGORA), agora=AGORA
    )

    assert riscos[longe.pk] > 0.5 > 0.15 > riscos[perto.pk]
    longe.refresh_from_db()
    assert longe.risco_falta == pytest.approx(riscos[longe.pk])


def test_a_short_history_falls_back_to_the_base_rate(agora, tenant, servico, cliente):
    for dias, status in ((3, "nao_compareceu"), (2, "concluido"), (1, "concluido")):
        marcar(tenant, cliente, servico, AGORA - timedelta(days=dias), status=status)
    futuro = marcar(tenant, cliente, servico, AGORA + timedelta(hours=20), status="pendente")

    riscos = noshow.risco_score(
        tenant=tenant, agendamentos=Agendamento.objects.filter(pk=futuro.pk), agora=AGORA
    )

    modelo = ModeloFalta.objects.get(tenant=tenant)
    assert modelo.tipo == ModeloFalta.Tipo.TAXA_BASE and modelo.auc is None
    assert riscos == {futuro.pk: pytest.approx(1 / 3, abs=1e-4)}


def test_each_tenant_learns_from_its_own_history_only(agora, tenant, other_tenant, servico):
    history.generate(tenant, servico, n=300)
    assert noshow.modelos_fit(agora=AGORA) == 1
    assert not ModeloFalta.objects.filter(tenant=other_tenant).exists()
    assert ModeloFalta.objects.get(tenant=tenant).amostras == 300
