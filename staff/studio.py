"""The owner's pages in the staff app: the front door (`/`), the bots, the flow editor
(steps drawn with their transitions, each edited in a form built from its handler's
config schema, staff.step_forms) and the chat simulator (the real pipeline through
chatbots.simulator; a bot on a real provider never sends).

Owners and admins (billing.Membership.Role) may change a flow; every member may look and
try the simulator. Writes go through chatbots.bots.step_create/step_update/step_delete.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from billing.models import Membership
from chatbots import bots
from chatbots.engine import UNDERSTANDING
from chatbots.models import Chatbot, Conversation, Message, Step
from chatbots.simulator import simulate_turn
from staff.access import staff_required
from staff.flow_diagram import flow_layout
from staff.health import health_annotate
from staff.step_forms import StepForm

EDITORS = (Membership.Role.OWNER, Membership.Role.ADMIN)
FINAL_HANDLERS = ("EndHandler", "HandoffHandler")  # steps that finish a conversation
STEP_ACTIONS = ("remover", "duplicar", "subir", "descer")


def front_door(request):
    """`/`: what the product is and where to go (never a debug page)."""
    return render(request, "front.html")


def _bot(request, pk: int) -> Chatbot:
    return get_object_or_404(Chatbot, pk=pk, tenant_id=request.membership.tenant_id)


def editor_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.membership.role not in EDITORS:
            raise PermissionDenied(_("Só o proprietário ou um administrador muda o fluxo."))
        return view(request, *args, **kwargs)

    return staff_required(wrapper)


def _handler(path: str):
    from chatbots.handlers.registry import registered_handlers

    return registered_handlers().get(path)


@staff_required
def bot_list(request):
    bots_ = list(Chatbot.objects.filter(tenant_id=request.membership.tenant_id).order_by("name"))
    health_annotate(bots_)
    return render(request, "staff/studio/bots.html", {"bots": bots_, "section": "bots"})


# --- The flow ------------------------------------------------------------------------------


def flow_graph(steps: list[Step]) -> list[dict]:
    """Each step with where it leads, the links to missing steps, and whether the first step
    reaches it (only judged when every step's handler declares its transitions: a code
    handler such as the order flow's moves in code)."""
    codes = {s.code for s in steps}
    rows, links = [], {}
    known = True
    for step in steps:
        handler = _handler(step.handler_path)
        targets = handler.referenced_steps(step.config or {}) if handler else []
        if handler is None or not handler.__module__.startswith("chatbots.handlers.generic"):
            known = False
        links[step.code] = targets
        rows.append(
            {
                "step": step,
                "label": str(handler.label) if handler else step.handler_path,
                "links": _labelled_links(step, handler, targets),
                "missing": [t for t in targets if t not in codes],
                "unreachable": False,
                # A generic step that leads nowhere and does not end or hand off: the
                # customer is stuck there until they type "menu".
                "dead_end": handler is not None
                and handler.__module__.startswith("chatbots.handlers.generic")
                and not targets
                and handler.__name__ not in FINAL_HANDLERS,
            }
        )
    if known and steps:
        seen, todo = set(), [steps[0].code]
        while todo:
            code = todo.pop()
            if code in seen:
                continue
            seen.add(code)
            todo.extend(links.get(code, []))
        for row in rows:
            row["unreachable"] = row["step"].code not in seen
    return rows


def _labelled_links(step: Step, handler, targets: list[str]) -> list[tuple[str, str]]:
    options = (step.config or {}).get("options")
    if isinstance(options, list) and options:
        return [
            (str(o.get("title", "")), o.get("next", "")) for o in options if isinstance(o, dict)
        ]
    return [("", t) for t in targets]


def _steps(bot: Chatbot) -> list[Step]:
    return list(bot.steps.order_by("order", "pk"))


@staff_required
def flow(request, pk: int):
    bot = _bot(request, pk)
    rows = flow_graph(_steps(bot))
    context = {
        "bot": bot,
        "rows": rows,
        "diagram": flow_layout(rows),
        "can_edit": request.membership.role in EDITORS,
        "section": "bots",
    }
    return render(request, "staff/studio/flow.html", context)


def _step_form_page(request, bot: Chatbot, step: Step | None):
    steps = _steps(bot)
    codes = [s.code for s in steps]
    path = (
        request.POST.get("handler_path")
        or request.GET.get("tipo")
        or (step.handler_path if step else "")
    )
    handler = _handler(path)
    initial = StepForm.initial_for(
        step.code if step else request.GET.get("codigo", ""),
        path,
        step.config if step and path == step.handler_path else {},
    )
    form = StepForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        handler=handler,
        step_codes=codes,
    )
    if request.method == "POST" and handler is not None and form.is_valid():
        config = form.config()
        try:
            with transaction.atomic():
                if step is None:
                    order = (steps[-1].order + 1) if steps else 1
                    bots.step_create(
                        chatbot=bot,
                        code=form.cleaned_data["code"],
                        handler_path=path,
                        order=order,
                        config=config,
                    )
                else:
                    bots.step_update(
                        step=step, code=form.cleaned_data["code"], handler_path=path, config=config
                    )
        except ValidationError as exc:
            form.place_errors(exc)
        else:
            messages.success(request, _("Etapa salva."))
            return redirect("staff:flow", pk=bot.pk)
    context = {
        "bot": bot,
        "step": step,
        "form": form,
        "handler": handler,
        "section": "bots",
    }
    return render(request, "staff/studio/step.html", context)


@editor_required
def step_add(request, pk: int):
    return _step_form_page(request, _bot(request, pk), None)


@editor_required
def step_edit(request, pk: int, step_pk: int):
    bot = _bot(request, pk)
    return _step_form_page(request, bot, get_object_or_404(Step, pk=step_pk, chatbot=bot))


@require_POST
@editor_required
def step_action(request, pk: int, step_pk: int, action: str):
    if action not in STEP_ACTIONS:
        raise Http404(action)
    bot = _bot(request, pk)
    step = get_object_or_404(Step, pk=step_pk, chatbot=bot)
    steps = _steps(bot)
    with transaction.atomic():
        if action == "remover":
            bots.step_delete(step=step)
        elif action == "duplicar":
            code = _free_code(step.code, {s.code for s in steps})
            bots.step_create(
                chatbot=bot,
                code=code,
                handler_path=step.handler_path,
                order=steps[-1].order + 1,
                config=step.config,
            )
        elif action in ("subir", "descer"):
            index = steps.index(step)
            other = index - 1 if action == "subir" else index + 1
            if 0 <= other < len(steps):
                steps[index], steps[other] = steps[other], steps[index]
                for order, each in enumerate(steps, 1):
                    if each.order != order:
                        bots.step_update(step=each, order=order)
    return redirect("staff:flow", pk=bot.pk)


def _free_code(code: str, taken: set[str]) -> str:
    n = 2
    while f"{code}_{n}"[:64] in taken:
        n += 1
    return f"{code}_{n}"[:64]


# --- The simulator ------------------------------------------------------------------------


def simulator_phone(membership: Membership) -> str:
    """A phone number of its own per staff member, so two people try a bot side by side."""
    return f"55119{membership.user_id % 100_000_000:08d}"


def _simulated(bot: Chatbot, membership: Membership) -> Conversation | None:
    return (
        Conversation.objects.filter(chatbot=bot, cliente__telefone=simulator_phone(membership))
        .order_by("-pk")
        .first()
    )


@staff_required
def simulator(request, pk: int):
    bot = _bot(request, pk)
    phone = simulator_phone(request.membership)
    if request.method == "POST":
        if "reiniciar" in request.POST:
            Conversation.objects.filter(chatbot=bot, cliente__telefone=phone).delete()
            request.session.pop(f"sim_answered_{bot.pk}", None)
        else:
            text = request.POST.get("text", "").strip()[:4096]
            reply_id = request.POST.get("reply_id", "")[:256]
            if text or reply_id:
                _replies, answered_by = simulate_turn(
                    chatbot=bot,
                    phone=phone,
                    text=text,
                    reply_id=reply_id,
                    name=request.user.get_full_name() or _("Simulador"),
                )
                request.session[f"sim_answered_{bot.pk}"] = answered_by
        if request.headers.get("HX-Request"):
            return render(request, "staff/studio/_sim.html", _sim_context(bot, request))
        return redirect("staff:simulator", pk=bot.pk)
    context = {**_sim_context(bot, request), "section": "bots"}
    return render(request, "staff/studio/simulator.html", context)


def _sim_context(bot: Chatbot, request) -> dict:
    conversation = _simulated(bot, request.membership)
    history = list(conversation.messages.order_by("created_at", "pk")[:200]) if conversation else []
    step = (
        bot.steps.filter(code=conversation.current_step).first()
        if conversation and conversation.current_step
        else None
    )
    handler = _handler(step.handler_path) if step else None
    last_out = next((m for m in reversed(history) if m.direction == Message.Direction.OUT), None)
    return {
        "bot": bot,
        "conversation": conversation,
        "history": history,
        "step": step,
        "step_label": str(handler.label) if handler else "",
        "interactive_id": last_out.pk if last_out else None,
        "state_rows": state_rows(conversation.state if conversation else {}),
        "answered_by": answered_by_label(request.session.get(f"sim_answered_{bot.pk}", "")),
    }


# What the generic menu keeps in the state (chatbots.handlers.generic.MenuHandler), by a
# name the owner reads; the option's internal id is not shown. Keys the owner named (a
# question's "save_as") show as they are.
STATE_NAMES = {"last_choice": _lazy("Última opção escolhida")}
STATE_HIDDEN = {"last_choice_id"}


def state_rows(state: dict) -> list[tuple[str, object, bool]]:
    """(name, value, named by the platform) for the simulator's "Dados guardados"."""
    rows = []
    for key, value in (state or {}).items():
        if key.startswith("_") or key in STATE_HIDDEN:
            continue
        name = STATE_NAMES.get(key)
        rows.append((str(name) if name else key, value, name is not None))
    return rows


# The automatic rules (settings.CHATBOT_INTERCEPTORS) by class name, as the simulator names
# the one that answered; a rule missing here shows its class name.
RULE_NAMES = {
    "OptOutKeywords": _lazy("Regra: descadastro (SAIR)"),
    "HumanHandoff": _lazy("Regra: conversa com um atendente"),
    "GlobalCommands": _lazy("Regra: palavra que recomeça (menu)"),
    "PlanQuota": _lazy("Regra: limite do plano"),
    "AppointmentButtons": _lazy("Regra: botões do lembrete de horário"),
    "UnsupportedMessage": _lazy("Regra: tipo de mensagem não suportado"),
    "CatalogOrder": _lazy("Regra: pedido pelo catálogo do WhatsApp"),
    "AssistantButtons": _lazy("Regra: botões do assistente"),
    "PersonRequest": _lazy("Regra: pedido para falar com uma pessoa"),
    "AssistantPersonOffer": _lazy("Regra: oferta de atendente do assistente"),
    "Greeting": _lazy("Regra: saudação"),
    "OrderStatus": _lazy("Regra: situação do pedido"),
    "FlowIntent": _lazy("Regra: intenção que abre um fluxo"),
}


def answered_by_label(path: str) -> str:
    """A pt-BR name for an engine.Turn.answered_by path: a step type's label, a rule's name,
    or the assistant and business facts (chatbots.interceptors.understanding)."""
    if not path:
        return ""
    if path == UNDERSTANDING:
        return _("Entendimento: assistente ou dados da empresa")
    handler = _handler(path)
    if handler is not None:
        return _("Etapa: %(label)s") % {"label": handler.label}
    name = path.rsplit(".", 1)[-1]
    return str(RULE_NAMES.get(name, name))


# --- The bot's behaviour ------------------------------------------------------------------


@staff_required
def behaviour(request, pk: int):
    """The bot's options and the assistant's settings as a form (chatbots.ai.options);
    members who do not edit see it read-only."""
    from staff.bot_forms import BehaviourForm

    bot = _bot(request, pk)
    can_edit = request.membership.role in EDITORS
    if request.method == "POST" and not can_edit:
        raise PermissionDenied(_("Só o proprietário ou um administrador muda o robô."))
    form = BehaviourForm(
        request.POST if request.method == "POST" else None, initial=BehaviourForm.initial_for(bot)
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                bots.chatbot_update(chatbot=bot, options=form.options(bot.options))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Comportamento salvo."))
            return redirect("staff:behaviour", pk=bot.pk)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    context = {"bot": bot, "form": form, "can_edit": can_edit, "section": "bots"}
    return render(request, "staff/studio/behaviour.html", context)
