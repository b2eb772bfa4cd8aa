"""A step's A/B test page in the studio: owners and admins start and stop a test, agents
see the results table and cannot change it, another tenant sees nothing."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Step
from experiments import services
from experiments.models import Exposure, StepExperiment
from tests.factories import ChatbotFactory, ClienteFactory, ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

A = "Oi! Quer ver o cardápio?"
B = "Olá. Escolha uma opção."


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(tenant=tenant, provider="stub", flow="menu")


def _url(bot, suffix=""):
    step = Step.objects.get(chatbot=bot, code="inicio")
    return f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/teste-ab/{suffix}"


def _member(client, tenant, role):
    membership = MembershipFactory(tenant=tenant, role=role)
    client.force_login(membership.user)
    return membership


def test_an_owner_starts_a_test_from_the_step_page_and_sees_its_table(client, tenant, bot):
    _member(client, tenant, Membership.Role.OWNER)
    step = Step.objects.get(chatbot=bot, code="inicio")
    step_page = client.get(f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/")
    assert "Teste A/B do texto" in step_page.content.decode()
    response = client.post(
        _url(bot, "iniciar/"),
        {"texto_1": A, "texto_2": B, "objetivo": "read", "estrategia": "epsilon"},
        follow=True,
    )
    page = response.content.decode()
    assert "Teste A/B iniciado." in page
    experiment = StepExperiment.objects.get(step__chatbot=bot)
    assert (experiment.goal, experiment.strategy, experiment.status) == (
        "read",
        "epsilon",
        "running",
    )
    assert [v.text for v in experiment.variants.all()] == [A, B]
    assert "Mostrada a" in page and "Confiança da diferença" in page and A in page
    assert "Encerrar o teste" in page and "Iniciar teste" not in page  # one at a time


def test_one_text_is_refused_with_a_message(client, tenant, bot):
    _member(client, tenant, Membership.Role.ADMIN)
    page = client.post(_url(bot, "iniciar/"), {"texto_1": A}, follow=True).content.decode()
    assert "Informe de 2 a 4 textos diferentes." in page
    assert not StepExperiment.objects.exists()


def test_an_agent_sees_the_results_and_cannot_start_or_stop(client, tenant, bot):
    step = Step.objects.get(chatbot=bot, code="inicio")
    experiment = services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal="reply", strategy="thompson"
    )
    cliente = ClienteFactory(tenant=tenant)
    Exposure.objects.create(
        experiment=experiment,
        variant=experiment.variants.first(),
        cliente=cliente,
        conversation=ConversationFactory(chatbot=bot, cliente=cliente, tenant=tenant),
    )
    _member(client, tenant, Membership.Role.AGENT)
    page = client.get(_url(bot)).content.decode()
    assert A in page and "Encerrar o teste" not in page and "Iniciar teste" not in page
    assert client.post(_url(bot, f"{experiment.pk}/encerrar/")).status_code == 403
    assert client.post(_url(bot, "iniciar/"), {"texto_1": A, "texto_2": B}).status_code == 403
    experiment.refresh_from_db()
    assert experiment.status == "running"


def test_an_owner_stops_a_test_and_the_step_keeps_its_text(client, tenant, bot):
    step = Step.objects.get(chatbot=bot, code="inicio")
    before = step.config["text"]
    experiment = services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal="reply", strategy="thompson"
    )
    _member(client, tenant, Membership.Role.OWNER)
    page = client.post(_url(bot, f"{experiment.pk}/encerrar/"), follow=True).content.decode()
    assert "Teste A/B encerrado" in page and "Encerrado" in page
    assert Step.objects.get(pk=step.pk).config["text"] == before


def test_the_winner_is_shown_to_the_owner(client, tenant, bot):
    step = Step.objects.get(chatbot=bot, code="inicio")
    experiment = services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal="reply", strategy="thompson"
    )
    services.experiment_finish(experiment_id=experiment.pk, winner_id=experiment.variants.last().pk)
    _member(client, tenant, Membership.Role.OWNER)
    page = client.get(_url(bot)).content.decode()
    assert f"Vencedora: “{B}”" in page
    assert Step.objects.get(pk=step.pk).config["text"] == B


def test_another_tenant_sees_nothing(client, tenant, other_tenant, bot):
    step = Step.objects.get(chatbot=bot, code="inicio")
    experiment = services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal="reply", strategy="thompson"
    )
    _member(client, other_tenant, Membership.Role.OWNER)
    assert client.get(_url(bot)).status_code == 404
    assert client.post(_url(bot, f"{experiment.pk}/encerrar/")).status_code == 404
    assert client.post(_url(bot, "iniciar/"), {"texto_1": A, "texto_2": B}).status_code == 404
    experiment.refresh_from_db()
    assert experiment.status == "running"
