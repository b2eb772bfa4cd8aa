"""The campaigns pages of the staff app without a browser: who sees and who controls,
another tenant's campaign, the numbers and the A/B table."""

from __future__ import annotations

import pytest

from billing.models import Membership
from campaigns import services
from campaigns.models import Campaign
from clientes.models import Cliente
from tests.factories import (
    ChatbotFactory,
    MembershipFactory,
    MessageTemplateFactory,
    ProdutoFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(tenant):
    bot = ChatbotFactory(tenant=tenant, name="Loja")
    a = MessageTemplateFactory(chatbot=bot, name="promo_a", category="MARKETING")
    b = MessageTemplateFactory(
        chatbot=bot,
        name="promo_b",
        category="MARKETING",
        body_text="Oi {{1}}, que tal mais um {{2}}?",
        body_examples=["Ana", "Pão de queijo"],
    )
    ana = Cliente.objects.create(tenant=tenant, nome="Ana Souza", telefone="5511987650001")
    bruno = Cliente.objects.create(tenant=tenant, nome="Bruno", telefone="5511987650002")
    _bought(ana, "Bolo de cenoura")
    _bought(bruno, "Café coado")
    return services.campaign_create(
        tenant=tenant,
        chatbot=bot,
        name="Dia das Mães",
        variants=[
            {"template": a, "label": "A"},
            {
                "template": b,
                "label": "B",
                "params": [{"field": "primeiro_nome"}, {"suggest": "top_product"}],
            },
        ],
    )


def _bought(cliente, product: str) -> None:
    from pedidos.models import ItemPedido, Pedido

    produto = ProdutoFactory(tenant=cliente.tenant, nome=product)
    pedido = Pedido.objects.create(tenant=cliente.tenant, cliente=cliente)
    ItemPedido.objects.create(
        tenant=cliente.tenant, pedido=pedido, produto=produto, quantidade=2, preco_unitario="10.00"
    )


def _as(client, tenant, role):
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


def test_an_admin_sees_the_estimate_and_starts_it(client, tenant, campaign, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    _as(client, tenant, Membership.Role.ADMIN)
    page = client.get(f"/atendimento/campanhas/{campaign.pk}/").content.decode()
    assert "Dia das Mães" in page
    assert "Público: 2 clientes" in page
    # The preview: each customer's own message, the suggestion from their history.
    assert "Oi Bruno, que tal mais um Café coado?" in page
    assert "Iniciar" in page
    assert "Teste A/B" in page and "promo_b" in page
    assert "Descadastradas" in page  # the numbers, under the bar

    response = client.post(f"/atendimento/campanhas/{campaign.pk}/iniciar/", follow=True)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert "Pausar" in response.content.decode()
    progress = client.get(f"/atendimento/campanhas/{campaign.pk}/progresso/").content.decode()
    assert 'hx-trigger="every 1s"' in progress and "0 de 2 enviadas" in progress


def test_an_agent_sees_the_campaign_but_cannot_control_it(client, tenant, campaign):
    _as(client, tenant, Membership.Role.AGENT)
    listing = client.get("/atendimento/campanhas/").content.decode()
    assert "Dia das Mães" in listing
    page = client.get(f"/atendimento/campanhas/{campaign.pk}/").content.decode()
    assert "Iniciar" not in page
    assert client.post(f"/atendimento/campanhas/{campaign.pk}/iniciar/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


def test_another_tenants_campaign_is_not_found(client, other_tenant, campaign):
    _as(client, other_tenant, Membership.Role.OWNER)
    assert client.get(f"/atendimento/campanhas/{campaign.pk}/").status_code == 404
    assert client.post(f"/atendimento/campanhas/{campaign.pk}/cancelar/").status_code == 404
    assert "Dia das Mães" not in client.get("/atendimento/campanhas/").content.decode()


def test_staff_schedule_a_message_from_the_conversation_and_cancels_it(client, tenant):
    import time_machine

    from campaigns.models import ScheduledMessage
    from tests.factories import ConversationFactory

    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    base = f"/atendimento/conversas/{conversation.pk}/"
    with time_machine.travel("2030-05-06 10:00 -03:00", tick=False):
        _as(client, tenant, Membership.Role.ADMIN)
        assert 'hx-get="' + base + 'agendadas/"' in client.get(base).content.decode()
        panel = client.post(
            base + "agendar/", {"send_at": "2030-05-06T15:30", "text": "Seu bolo está pronto"}
        ).content.decode()
        assert "06/05/2030 15:30" in panel and "Seu bolo está pronto" in panel
        row = ScheduledMessage.objects.get()
        assert row.send_at.isoformat() == "2030-05-06T18:30:00+00:00"  # São Paulo's 15:30

        past = client.post(base + "agendar/", {"send_at": "2030-05-06T09:00", "text": "x"})
        assert "Escolha um horário no futuro." in past.content.decode()

        client.post(f"{base}agendadas/{row.pk}/cancelar/")
    row.refresh_from_db()
    assert row.status == ScheduledMessage.Status.CANCELED


def test_the_satisfaction_page_shows_scores_per_agent_and_queue_to_managers(client, tenant):
    from django.utils import timezone

    from campaigns.models import Survey
    from inbox.models import Queue, Ticket
    from tests.factories import ConversationFactory

    queue = Queue.objects.create(tenant=tenant, name="Suporte", slug="suporte")
    ana = MembershipFactory(tenant=tenant, role=Membership.Role.AGENT, user__first_name="Ana")
    for score in (5, 4):
        conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
        ticket = Ticket.objects.create(tenant=tenant, conversation=conversation, queue=queue)
        Survey.objects.create(
            tenant=tenant,
            ticket=ticket,
            conversation=conversation,
            agent=ana.user,
            queue=queue,
            status=Survey.Status.ANSWERED,
            score=score,
            sent_at=timezone.now(),
            answered_at=timezone.now(),
        )
    _as(client, tenant, Membership.Role.OWNER)
    page = client.get("/atendimento/satisfacao/").content.decode()
    assert "<td>Ana</td><td>4,5</td><td>2</td>" in page
    assert "<td>Suporte</td><td>4,5</td><td>2</td>" in page
    client.force_login(ana.user)
    assert client.get("/atendimento/satisfacao/").status_code == 403
