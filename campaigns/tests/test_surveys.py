"""Satisfaction after a human conversation: the survey goes when the attendant closes, as
buttons inside the 24-hour window and as the approved template outside it; the customer's
tap is recorded (the flow does not answer it) and the scores are shown per agent and queue."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing.models import Membership
from campaigns import surveys
from campaigns.models import Survey, SurveyConfig
from campaigns.tests.conftest import MONDAY_TEN
from inbox import services as inbox
from inbox.models import Queue
from tests.conversation import CUSTOMER, body_text, buttons
from tests.factories import (
    ClienteFactory,
    ConversationFactory,
    MembershipFactory,
    MessageTemplateFactory,
    StepFactory,
)


@pytest.fixture
def team(tenant, bot):
    StepFactory(
        chatbot=bot,
        code="inicio",
        order=1,
        handler_path="chatbots.handlers.generic.EndHandler",
        config={"text": "Olá! Sou o robô."},
    )
    suporte = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    ana = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT, user__first_name="Ana").user
    suporte.members.add(ana)
    SurveyConfig.objects.create(tenant=tenant, enabled=True)
    return {"queue": suporte, "ana": ana}


def _closed(tenant, bot, team, *, wrote_hours_ago: float, outcome="closed"):
    cliente = ClienteFactory(tenant=tenant, nome="Maria", telefone=CUSTOMER)
    conversation = ConversationFactory(
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=MONDAY_TEN - timedelta(hours=wrote_hours_ago),
    )
    ticket = inbox.ticket_open(conversation, team["queue"])
    inbox.ticket_take(ticket, team["ana"])
    if outcome == "closed":
        inbox.ticket_close(ticket, team["ana"])
    else:
        inbox.ticket_return_to_bot(ticket, team["ana"])
    return conversation


def _due(run, clock):
    from campaigns import tasks

    return run(tasks.bulk_surveys_due, clock)


def test_inside_the_window_it_goes_as_buttons_and_the_tap_is_the_score(
    tenant, bot, team, run, clock, fake_graph, chat_with
):
    _closed(tenant, bot, team, wrote_hours_ago=1)

    assert _due(run, clock) == [f"+{CUSTOMER}"]
    sent = fake_graph.sends[-1].json
    assert body_text(sent) == "Como você avalia o atendimento que recebeu?"
    assert buttons(sent) == [("csat:5", "Ótimo"), ("csat:3", "Regular"), ("csat:1", "Ruim")]
    assert _due(run, clock) == []  # one survey per ticket

    replies = chat_with(bot, phone=CUSTOMER).tap("csat:5", "Ótimo")

    assert [body_text(r) for r in replies] == ["Obrigado pela sua avaliação!"]
    survey = Survey.objects.get()
    assert survey.score == 5 and survey.agent == team["ana"] and survey.queue == team["queue"]
    scores = surveys.survey_scores(tenant_id=tenant.pk)
    assert [(a["name"], a["average"], a["answers"]) for a in scores["agents"]] == [("Ana", 5, 1)]
    assert [(q["name"], q["answers"]) for q in scores["queues"]] == [("Suporte", 1)]

    # Later, a "5" is just a message to the flow again.
    later = chat_with(bot, phone=CUSTOMER).text("5")
    assert "Obrigado pela sua avaliação!" not in [body_text(r) for r in later]


def test_outside_the_window_the_survey_template_goes(tenant, bot, team, run, clock, fake_graph):
    MessageTemplateFactory(chatbot=bot, name="pesquisa_satisfacao", purpose=surveys.PURPOSE)
    _closed(tenant, bot, team, wrote_hours_ago=30)

    assert _due(run, clock) == [f"+{CUSTOMER}"]
    sent = fake_graph.sends[-1].json
    assert sent["type"] == "template"
    assert sent["template"]["name"] == "pesquisa_satisfacao"


def test_a_typed_score_counts_and_the_delay_is_kept(
    tenant, bot, team, run, clock, fake_graph, chat_with
):
    SurveyConfig.objects.filter(tenant=tenant).update(kind="scale", delay_minutes=30)
    _closed(tenant, bot, team, wrote_hours_ago=1)

    clock.shift(timedelta(minutes=10))
    assert _due(run, clock) == []
    clock.shift(timedelta(minutes=20))
    assert _due(run, clock) == [f"+{CUSTOMER}"]
    assert fake_graph.sends[-1].json["interactive"]["type"] == "list"

    chat_with(bot, phone=CUSTOMER).text("4")
    assert Survey.objects.get().score == 4


def test_a_ticket_handed_back_to_the_bot_gets_no_survey(tenant, bot, team, run, clock):
    _closed(tenant, bot, team, wrote_hours_ago=1, outcome="bot")
    assert _due(run, clock) == []
    assert not Survey.objects.exists()
