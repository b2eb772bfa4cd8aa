"""Browser test of the agenda insights on the owner's dashboard in the admin
(agenda/templates/admin/agenda/insights_panel.html): the busiest hours are named, and a
long list of suggestions is folded after the first five."""

from __future__ import annotations

import pytest
import time_machine

from agenda.tests.conftest import AGORA
from agenda.tests.test_insights import _four_weeks
from staff.tests import browser as live
from staff.tests.browser import login, shot
from tests.factories import MembershipFactory

pytestmark = pytest.mark.usefixtures("transactional_db")
# The staff app's browser fixtures (its conftest offers them to staff/tests only).
browser, live_asgi, new_page = live.browser, live.live_asgi, live.new_page


@pytest.fixture
def clock():
    # The clock runs (from a Monday morning): the live server's and browser's timers need it.
    with time_machine.travel(AGORA, tick=True) as traveller:
        yield traveller


def test_the_owner_sees_the_busiest_hours_on_the_dashboard(
    clock, new_page, tenant, agenda_interna, servico, cliente
):
    _four_weeks(tenant, servico, cliente)
    owner = MembershipFactory(tenant=tenant, user__first_name="Olga")
    page = new_page(width=1280, height=900)

    login(page, owner.user)
    page.goto(f"/admin/billing/tenant/{tenant.pk}/dashboard/")

    busiest = page.locator("p", has_text="Horários mais cheios")
    assert "Horários mais cheios: segunda-feira 09h (50%)" in busiest.inner_text()
    assert page.get_by_role("heading", name="Agenda: últimas 8 semanas").is_visible()
    # Dozens of hours to close: five are listed, the rest wait behind "Mais N sugestões".
    assert page.locator("ul.agenda-sugestoes").first.locator("li").count() == 5
    more = page.locator("details.agenda-sugestoes-mais")
    assert more.locator("summary").inner_text().startswith("Mais ")
    assert not more.locator("li").first.is_visible()
    shot(page, "agenda-insights-dashboard")
    more.locator("summary").click()
    assert more.locator("li").first.is_visible()
