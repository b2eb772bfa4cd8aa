"""The new tenant's checklist (/atendimento/comecar/): connect a number, pick a starter flow
(chatbots.starter_flows), add products or services, try the bot in the simulator, go live.
Each item is read from the data, so it ticks itself when the owner does the thing anywhere."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agenda.models import Servico
from chatbots import bots, engine, starter_flows
from chatbots.models import Chatbot, InboundEvent
from pedidos.models import Produto
from staff.access import staff_required
from staff.studio import EDITORS, editor_required

FLOWS = {
    "menu": gettext_lazy("Menu de atendimento"),
    "pedidos": gettext_lazy("Pedidos (cardápio e carrinho)"),
    "agenda": gettext_lazy("Agenda (marcar horários)"),
}


def checklist(tenant_id: int) -> tuple[Chatbot | None, list[dict]]:
    bot = Chatbot.objects.filter(tenant_id=tenant_id).order_by("pk").first()
    events = InboundEvent.objects.filter(tenant_id=tenant_id)
    items = [
        ("number", _("Conectar um número"), bot is not None and bot.provider != "stub"),
        ("flow", _("Escolher um fluxo inicial"), bot is not None and bot.steps.exists()),
        (
            "catalog",
            _("Cadastrar produtos ou serviços"),
            Produto.objects.filter(tenant_id=tenant_id).exists()
            or Servico.objects.filter(tenant_id=tenant_id).exists(),
        ),
        (
            "simulator",
            _("Testar no simulador"),
            events.filter(provider=engine.SIMULATOR).exists(),
        ),
        ("live", _("Entrar no ar"), events.exclude(provider=engine.SIMULATOR).exists()),
    ]
    return bot, [{"key": k, "label": label, "done": done} for k, label, done in items]


def steps_left(membership) -> int:
    """How many checklist items an owner or admin still has to do (0 for agents, who do not
    configure, and once the bot is live)."""
    if membership.role not in EDITORS:
        return 0
    _bot, items = checklist(membership.tenant_id)
    if items[-1]["done"]:  # live: what is left is the owner's choice, not a set-up step
        return 0
    return sum(not i["done"] for i in items)


@staff_required
def onboarding(request):
    bot, items = checklist(request.membership.tenant_id)
    context = {
        "bot": bot,
        "items": items,
        "left": sum(not i["done"] for i in items),
        "flows": FLOWS.items(),
        "section": "bots",
    }
    return render(request, "staff/studio/onboarding.html", context)


@editor_required
def bot_create(request):
    """A new tenant's first bot, on the simulator until a number is connected."""
    name = request.POST.get("name", "").strip()[:120]
    if request.method == "POST" and name:
        try:
            with transaction.atomic():
                bots.chatbot_create(tenant=request.membership.tenant, name=name, provider="stub")
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("Robô criado: %(name)s.") % {"name": name})
    return redirect("staff:onboarding")


@editor_required
def flow_pick(request):
    bot = Chatbot.objects.filter(tenant_id=request.membership.tenant_id).order_by("pk").first()
    flow = request.POST.get("flow", "")
    if request.method == "POST" and bot is not None and flow in FLOWS:
        with transaction.atomic():
            starter_flows.flow_prepare(tenant=bot.tenant, flow=flow)
            starter_flows.flow_install(chatbot=bot, flow=flow)
        messages.success(request, _("Fluxo instalado: %(flow)s.") % {"flow": FLOWS[flow]})
    return redirect("staff:onboarding")
