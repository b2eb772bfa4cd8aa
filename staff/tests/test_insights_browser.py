"""Browser tests of the insight pages, on a phone-sized viewport for the staff app: the
customers page (who to win back, and why), the recommendations in a conversation's customer
panel, and the agenda insights on the owner's dashboard in the admin. Screenshots go to
test-artifacts/ (staff/tests/browser.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clientes.models import Cliente
from insights import segments
from pedidos.models import Categoria, ItemPedido, Pedido, Produto
from pedidos.status import StatusPedido
from staff.tests.browser import login, shot
from tests.factories import ConversationFactory, MembershipFactory

pytestmark = pytest.mark.usefixtures("transactional_db")


def _order(tenant, cliente, days_ago: int, products=()) -> None:
    pedido = Pedido.objects.create(
        tenant=tenant,
        cliente=cliente,
        status=StatusPedido.ENTREGUE,
        total=Decimal("80"),
        confirmado_em=timezone.now() - timedelta(days=days_ago),
    )
    ItemPedido.objects.bulk_create(
        [
            ItemPedido(
                tenant=tenant, pedido=pedido, produto=p, quantidade=1, preco_unitario=p.preco
            )
            for p in products
        ]
    )


def _fits_the_phone(page) -> None:
    """Nothing wider than the screen: the page never scrolls sideways."""
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"


def test_the_owner_sees_the_customer_who_stopped_buying_first_with_why(new_page):
    owner = MembershipFactory(user__first_name="Olga")
    tenant = owner.tenant
    gone = Cliente.objects.create(tenant=tenant, nome="Maria Sumida", telefone="5511970000001")
    for days in (100, 93, 86, 79, 72):  # weekly, then ten weeks without an order
        _order(tenant, gone, days)
    regular = Cliente.objects.create(tenant=tenant, nome="João Fiel", telefone="5511970000002")
    for days in (22, 15, 8, 1):
        _order(tenant, regular, days)
    segments.segments_refresh(tenant_id=tenant.pk)
    page = new_page()

    login(page, owner.user)
    page.goto("/atendimento/clientes/")

    card = page.locator(".card", has_text="Quem reconquistar esta semana")
    first = card.locator("tbody tr").first
    assert first.locator("td").first.inner_text() == "Maria Sumida"
    assert "Costuma voltar a cada 7 dias; a última vez foi há 72 dias" in first.inner_text()
    assert "João Fiel" not in card.inner_text()
    shot(page, "insights-customers-phone")
    _fits_the_phone(page)


def test_the_attendant_sees_the_product_to_offer_and_why_in_the_customer_panel(new_page):
    agent = MembershipFactory(user__first_name="Ana")
    tenant = agent.tenant
    cat = Categoria.objects.create(tenant=tenant, nome="Padaria")
    pao, manteiga, cafe = (
        Produto.objects.create(tenant=tenant, categoria=cat, nome=n, preco=Decimal("10"))
        for n in ("Pão", "Manteiga", "Café")
    )
    for i in range(4):  # the habit: bread and butter come with coffee
        other = Cliente.objects.create(tenant=tenant, nome=f"Outro {i}")
        _order(tenant, other, i + 1, [pao, manteiga, cafe])
    maria = Cliente.objects.create(tenant=tenant, nome="Maria", telefone="5511970000003")
    _order(tenant, maria, 2, [pao, manteiga])
    _order(tenant, maria, 9, [pao, manteiga])
    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant, cliente=maria)
    page = new_page()

    login(page, agent.user)
    page.goto(f"/atendimento/conversas/{conversation.pk}/")

    panel = page.locator("#recommendations")
    offer = panel.locator("li", has_text="Oferecer Café.")
    offer.wait_for()
    assert "Está em 67% dos pedidos com o que o cliente compra (Manteiga, Pão)." in (
        offer.inner_text()
    )
    panel.scroll_into_view_if_needed()
    shot(page, "insights-recommendations-phone")
    _fits_the_phone(page)
