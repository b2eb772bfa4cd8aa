"""What a reply to a campaign does (a flow step or an inbox queue), recurring campaigns, and
the CSV import of contacts with the proof of their opt-in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from campaigns import imports, services
from campaigns.models import Campaign, ContactOptIn
from campaigns.tests.conftest import MONDAY_TEN
from chatbots.models import Conversation
from clientes.models import Cliente
from compliance import consent
from compliance.models import ConsentEvent
from inbox.models import Queue, Ticket
from tests.conversation import CUSTOMER, body_text
from tests.factories import ClienteFactory, StepFactory


@pytest.fixture
def maria(tenant):
    return ClienteFactory(tenant=tenant, nome="Maria", telefone=CUSTOMER)


def _campaign(tenant, bot, promo, **kwargs):
    return services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Maio",
        variants=[{"template": promo, "params": [{"field": "primeiro_nome"}]}],
        **kwargs,
    )


def test_a_reply_enters_the_campaigns_flow_step(tenant, bot, promo, maria, run, chat_with):
    StepFactory(
        chatbot=bot,
        code="sabor",
        handler_path="chatbots.handlers.generic.QuestionHandler",
        config={"text": "Qual sabor?", "type": "text", "save_as": "sabor", "next": "fim"},
    )
    StepFactory(
        chatbot=bot,
        code="fim",
        handler_path="chatbots.handlers.generic.EndHandler",
        config={"text": "Anotado, obrigado!"},
    )
    campaign = _campaign(tenant, bot, promo, reply_step="sabor")
    run(lambda: services.campaign_start(campaign=campaign))

    sent = chat_with(bot, phone=CUSTOMER).text("calabresa")

    # The campaign's question took the answer and moved to its next step.
    assert [body_text(b) for b in sent] == ["Anotado, obrigado!"]


def test_a_reply_opens_a_ticket_in_the_campaigns_queue_and_the_bot_stays_quiet(
    tenant, bot, promo, maria, run, chat_with
):
    vendas = Queue.objects.create(tenant=tenant, name="Vendas", slug="vendas")
    campaign = _campaign(tenant, bot, promo, reply_queue=vendas)
    run(lambda: services.campaign_start(campaign=campaign))

    sent = chat_with(bot, phone=CUSTOMER).text("Quero saber mais")

    ticket = Ticket.objects.get(conversation__cliente=maria)
    assert ticket.queue == vendas
    assert ticket.status == Ticket.Status.WAITING
    assert Conversation.objects.get(cliente=maria).status == Conversation.Status.WAITING
    assert sent == []  # an attendant answers, not the flow


def test_a_step_of_another_bot_is_refused(tenant, bot, promo):
    with pytest.raises(services.CampaignError, match="etapa"):
        _campaign(tenant, bot, promo, reply_step="nao_existe")


def test_a_recurring_campaign_is_scheduled_again_when_its_run_ends(
    tenant, bot, promo, maria, run, clock
):
    campaign = _campaign(tenant, bot, promo, repeat_days=7)
    run(lambda: services.campaign_start(campaign=campaign), clock)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
    nxt = Campaign.objects.exclude(pk=campaign.pk).get()
    assert nxt.status == Campaign.Status.SCHEDULED
    assert nxt.scheduled_at == MONDAY_TEN + timedelta(days=7)
    assert nxt.recipients.count() == 1


CSV = """telefone;nome;tags;consentimento
(11) 98765-0001;Ana;vip|sp;formulário do site 2026-04-01
11987650002;Bruno;;
abc;Carla;;balcão
(11) 98765-0003;Dora;;balcão, ficha assinada
"""


def test_a_csv_import_keeps_only_contacts_with_proof_and_never_undoes_an_opt_out(tenant):
    dora = ClienteFactory(tenant=tenant, nome="Dora", telefone="5511987650003")
    consent.consent_opt_out(cliente=dora, source=ConsentEvent.Source.KEYWORD, actor="t")

    result = imports.contacts_import(tenant=tenant, name="lista.csv", content=CSV)

    assert result.created == 1 and result.existing == 1 and result.opted_out == 1
    assert result.rejected == [
        "linha 3: sem a prova do consentimento",
        "linha 4: telefone inválido",
    ]
    ana = Cliente.objects.get(telefone="5511987650001")
    assert ana.tags == ["sp", "vip"]
    assert ContactOptIn.objects.get(cliente=ana).proof == "formulário do site 2026-04-01"
    dora.refresh_from_db()
    assert dora.optout_em is not None
    # The audience of the import: Ana only (Dora said no).
    from campaigns.audience import audience_customers

    audience = audience_customers(
        tenant_id=tenant.pk, definition={"import_id": result.contact_import.pk}
    )
    assert list(audience) == [ana]


def test_a_csv_without_the_proof_column_is_refused(tenant):
    with pytest.raises(ValidationError, match="consentimento"):
        imports.contacts_import(tenant=tenant, name="x.csv", content="telefone,nome\n1199,Ana\n")
