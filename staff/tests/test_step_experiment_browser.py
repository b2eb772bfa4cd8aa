"""A step's A/B test in a real browser: the owner opens the step, starts a test of two
texts, and after some customers sees the results table. Screenshot:
test-artifacts/step-experiment.png."""

from __future__ import annotations

import pytest

from billing.models import Membership
from chatbots.models import Conversation, Message, Step
from experiments.models import Exposure, StepExperiment
from staff.tests.browser import login, shot
from tests.factories import ChatbotFactory, ClienteFactory, MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

A = "Oi! Quer ver o cardápio de hoje?"
B = "Olá. Escolha uma opção abaixo."


def test_an_owner_starts_a_test_from_the_step_and_sees_the_results(live_asgi, new_page):
    owner = MembershipFactory(role=Membership.Role.OWNER)
    bot = ChatbotFactory(tenant=owner.tenant, provider="stub", flow="menu")
    step = Step.objects.get(chatbot=bot, code="inicio")
    page = new_page(width=1280, height=900)
    login(page, owner.user)

    page.goto(f"/atendimento/robos/{bot.pk}/fluxo/{step.pk}/")
    page.click("text=Teste A/B do texto")
    page.fill("textarea[name=texto_1]", A)
    page.fill("textarea[name=texto_2]", B)
    page.click("text=Iniciar teste")
    page.wait_for_selector("text=Teste A/B iniciado.")

    # Three customers saw A and two of them answered; two saw B, nobody answered.
    experiment = StepExperiment.objects.get(step=step)
    a, b = experiment.variants.all()
    for n, (variant, answered) in enumerate([(a, 1), (a, 1), (a, 0), (b, 0), (b, 0)]):
        cliente = ClienteFactory(tenant=owner.tenant)
        conversation = Conversation.objects.create(
            tenant=owner.tenant, chatbot=bot, cliente=cliente
        )
        Exposure.objects.create(
            experiment=experiment, variant=variant, cliente=cliente, conversation=conversation
        )
        if answered:
            Message.objects.create(
                tenant=owner.tenant,
                conversation=conversation,
                direction="in",
                status="received",
                text=f"quero {n}",
            )
    page.reload()
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").all_inner_texts()[:4] == [A, "3", "2", "67%"]
    assert rows.nth(1).locator("td").all_inner_texts()[:4] == [B, "2", "0", "0%"]
    assert page.locator("text=Encerrar o teste").is_visible()
    shot(page, "step-experiment")
