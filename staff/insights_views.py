"""Customer insights in the staff app: /atendimento/insights/ (owners and admins: segments
with their value, who to win back this week, NPS by month) and the recommendations part of
a conversation's customer panel (every member who sees the conversation). Thin: insights'
selectors and recommendations read."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from inbox import selectors as inbox_selectors
from insights import selectors
from insights.recommendations import recommendations_for
from staff.access import staff_required
from staff.views import _visible_conversation


@staff_required
def insights_page(request):
    if not inbox_selectors.is_manager(request.membership):
        return HttpResponse(
            _("Só proprietários e administradores veem os números dos clientes."), status=403
        )
    tenant_id = request.membership.tenant_id
    winback = [
        {"perfil": p, "why": selectors.churn_reason(p)}
        for p in selectors.winback_list(tenant_id=tenant_id)
    ]
    context = {
        "section": "insights",
        "segments": selectors.segment_counts(tenant_id=tenant_id),
        "winback": winback,
        "nps": selectors.nps_by_month(tenant_id=tenant_id),
    }
    return render(request, "staff/insights.html", context)


@staff_required
def recommendations_panel(request, pk: int):
    conversation = _visible_conversation(request, pk)
    context = {"rec": recommendations_for(cliente=conversation.cliente)}
    return render(request, "staff/_recommendations.html", context)
