"""A step's A/B tests in the studio: the results table per experiment, and starting or
stopping one (owners and admins; agents see the numbers). The split, the winner and the
step's kept text are experiments.services'; the numbers are experiments.stats'."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import ab
from chatbots.models import Step
from experiments import services, stats
from experiments.models import StepExperiment
from staff.access import staff_required
from staff.studio import EDITORS, _bot


def _step(request, pk: int, step_pk: int) -> Step:
    return get_object_or_404(Step, pk=step_pk, chatbot=_bot(request, pk))


def _editor(request) -> None:
    if request.membership.role not in EDITORS:
        raise PermissionDenied(_("Só o proprietário ou um administrador muda o fluxo."))


@staff_required
def step_experiments(request, pk: int, step_pk: int):
    step = _step(request, pk, step_pk)
    experiments = list(
        StepExperiment.objects.filter(step=step, tenant_id=request.membership.tenant_id)
        .select_related("winner")
        .order_by("-started_at", "-pk")
    )
    context = {
        "bot": step.chatbot,
        "step": step,
        "experiments": [(e, stats.results(experiment=e)) for e in experiments],
        "running": any(e.status == StepExperiment.Status.RUNNING for e in experiments),
        "testable": "text" in (step.config or {}),
        "can_edit": request.membership.role in EDITORS,
        "goals": StepExperiment.Goal.choices,
        "strategies": StepExperiment.Strategy.choices,
        "slots": range(1, services.VARIANTS_MAX + 1),
        "current_text": (step.config or {}).get("text", ""),
        "min_samples": ab.MIN_SAMPLES,
        "win_confidence": round(ab.WIN_CONFIDENCE * 100),
        "section": "bots",
    }
    return render(request, "staff/studio/experiments.html", context)


@require_POST
@staff_required
def experiment_start(request, pk: int, step_pk: int):
    _editor(request)
    step = _step(request, pk, step_pk)
    texts = [request.POST.get(f"texto_{n}", "") for n in range(1, services.VARIANTS_MAX + 1)]
    try:
        services.experiment_start(
            tenant=request.membership.tenant,
            step=step,
            texts=texts,
            goal=request.POST.get("objetivo", ""),
            strategy=request.POST.get("estrategia", ""),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Teste A/B iniciado."))
    return redirect("staff:step-experiments", pk=step.chatbot_id, step_pk=step.pk)


@require_POST
@staff_required
def experiment_stop(request, pk: int, step_pk: int, experiment_pk: int):
    _editor(request)
    step = _step(request, pk, step_pk)
    experiment = get_object_or_404(
        StepExperiment, pk=experiment_pk, step=step, tenant_id=request.membership.tenant_id
    )
    services.experiment_finish(experiment_id=experiment.pk)
    messages.success(request, _("Teste A/B encerrado; a etapa mantém o texto atual."))
    return redirect("staff:step-experiments", pk=step.chatbot_id, step_pk=step.pk)
