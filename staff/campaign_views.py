"""The campaigns in the staff app (/atendimento/campanhas/): the list, a campaign's page
with its live progress bar, numbers, A/B results and costs, and (owners and admins) start,
pause, resume, cancel and retry the failures. Thin: campaigns.stats reads, campaigns.services
decides. The progress part re-reads itself with htmx while the campaign is active."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import imports, previews, scheduled, services, stats, surveys
from campaigns.audience import audience_count
from campaigns.models import Campaign, ScheduledMessage
from chatbots.models import Conversation, MessageTemplate
from inbox import selectors as inbox_selectors
from staff.access import staff_required
from staff.campaign_forms import CampaignForm

ACTIVE = set(services.ACTIVE)
ACTIONS = {
    "iniciar": (services.campaign_start, {Campaign.Status.DRAFT}),
    "pausar": (services.campaign_pause, ACTIVE),
    "retomar": (services.campaign_resume, {Campaign.Status.PAUSED}),
    "cancelar": (
        services.campaign_cancel,
        {*ACTIVE, Campaign.Status.PAUSED, Campaign.Status.DRAFT},
    ),
    "reenviar": (services.campaign_retry_failed, {Campaign.Status.DONE, Campaign.Status.RUNNING}),
}


def _campaign(request, pk: int) -> Campaign:
    return get_object_or_404(
        Campaign.objects.select_related("chatbot"), pk=pk, tenant_id=request.membership.tenant_id
    )


def _progress_context(campaign: Campaign) -> dict:
    return {
        "campaign": campaign,
        "numbers": stats.campaign_numbers(campaign=campaign),
        "active": campaign.status in ACTIVE,
    }


def _preview(campaign: Campaign) -> list[dict]:
    """The first customers' messages as they will read them, each with their own values."""
    return [
        {
            "cliente": row.cliente_nome or row.telefone,
            "variant": row.variant.label,
            "text": row.text,
            "pending": row.pending,
            "fallback": row.fallback,
        }
        for row in previews.campaign_preview(campaign=campaign)
    ]


@staff_required
def campaign_list(request):
    campaigns = Campaign.objects.filter(tenant_id=request.membership.tenant_id).select_related(
        "chatbot"
    )[:100]
    rows = [_progress_context(c) for c in campaigns]
    context = {
        "rows": rows,
        "section": "campaigns",
        "can_create": inbox_selectors.is_manager(request.membership),
    }
    return render(request, "staff/campaigns.html", context)


@staff_required
def campaign_new(request):
    """Write a draft (owners and admins); its page then shows the audience's count, the cost
    and each first customer's message before it is started."""
    if denied := _manager_only(request):
        return denied
    tenant = request.membership.tenant
    form = CampaignForm(request.POST or None, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(**form.create_kwargs())
        except services.CampaignError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("staff:campaign", pk=campaign.pk)
    context = {
        "form": form,
        "section": "campaigns",
        "params_a": form.params_a.context(),
        "params_b": form.params_b.context(),
    }
    return render(request, "staff/campaign_new.html", context)


def _manager_only(request):
    if not inbox_selectors.is_manager(request.membership):
        return HttpResponse(_("Só proprietários e administradores criam campanhas."), status=403)
    return None


@staff_required
def campaign_audience(request):
    """The count of customers the form's filters reach now, re-read by htmx as they change;
    the customers who opted out are left out and said so."""
    if denied := _manager_only(request):
        return denied
    form = CampaignForm(request.GET, tenant=request.membership.tenant)
    form.is_valid()  # the audience fields clean on their own; the rest may still be empty
    definition = form.audience()
    tenant_id = request.membership.tenant_id
    context = {
        "reached": audience_count(tenant_id=tenant_id, definition=definition),
        "opted_out": audience_count(tenant_id=tenant_id, definition=definition, opted_out=True),
    }
    return render(request, "staff/_campaign_audience.html", context)


@staff_required
def campaign_params(request):
    """One variant's parameter rows for the template chosen (htmx, on changing it)."""
    if denied := _manager_only(request):
        return denied
    form = CampaignForm(request.GET, tenant=request.membership.tenant)
    rows = form.params_b if request.GET.get("variant") == "b" else form.params_a
    return render(request, "staff/_campaign_params.html", rows.context())


@staff_required
@require_POST
def campaign_import(request):
    """A CSV of contacts with their opt-in proof (campaigns.imports), uploaded from the form:
    the import becomes the audience's choice; each rejected line is listed."""
    if denied := _manager_only(request):
        return denied
    upload = request.FILES.get("csv")
    context: dict = {}
    if upload is None:
        context["error"] = _("Escolha um arquivo CSV.")
    else:
        try:
            content = upload.read().decode("utf-8-sig")
            context["result"] = imports.contacts_import(
                tenant=request.membership.tenant,
                name=upload.name,
                content=content,
                by=request.user.get_username(),
            )
        except UnicodeDecodeError:
            context["error"] = _("O arquivo deve ser um CSV em UTF-8.")
        except ValidationError as exc:
            context["error"] = " ".join(exc.messages)
    form = CampaignForm(
        initial={"import_id": context["result"].contact_import.pk} if "result" in context else {},
        tenant=request.membership.tenant,
    )
    context["field"] = form["import_id"]
    return render(request, "staff/_campaign_import.html", context)


@staff_required
def campaign_detail(request, pk: int):
    campaign = _campaign(request, pk)
    manager = inbox_selectors.is_manager(request.membership)
    context = {
        **_progress_context(campaign),
        "section": "campaigns",
        "ab": stats.ab_results(campaign=campaign),
        "costs": stats.campaign_costs(campaign=campaign),
        "variants": campaign.variants.select_related("template").order_by("pk"),
        "actions": [name for name, (_f, allowed) in ACTIONS.items() if campaign.status in allowed]
        if manager
        else [],
    }
    if campaign.status == Campaign.Status.DRAFT:
        context["estimate"] = services.campaign_estimate(campaign=campaign)
        context["preview"] = _preview(campaign)
    return render(request, "staff/campaign.html", context)


@staff_required
def campaign_progress(request, pk: int, detail: bool = False):
    """The progress part alone (polled by the page while the campaign is active); with the
    numbers under the bar on the campaign's own page (`detail`)."""
    context = {**_progress_context(_campaign(request, pk)), "detail": detail}
    return render(request, "staff/_campaign_progress.html", context)


@staff_required
@require_POST
def campaign_action(request, pk: int, action: str):
    campaign = _campaign(request, pk)
    if not inbox_selectors.is_manager(request.membership) or action not in ACTIONS:
        return HttpResponse(
            _("Só proprietários e administradores controlam campanhas."), status=403
        )
    do, _allowed = ACTIONS[action]
    try:
        changed = do(campaign=campaign)
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        if changed:
            messages.success(request, _("Feito."))
        else:
            messages.error(request, _("Isto não se aplica a esta campanha agora."))
    return redirect("staff:campaign", pk=campaign.pk)


@staff_required
def campaign_export(request, pk: int):
    campaign = _campaign(request, pk)
    response = HttpResponse(stats.campaign_csv(campaign=campaign), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campanha-{campaign.pk}.csv"'
    return response


# --- Scheduled messages, from a conversation's page -----------------------------------------


def _conversation(request, pk: int) -> Conversation:
    conversation = get_object_or_404(
        Conversation.objects.select_related("chatbot", "cliente"),
        pk=pk,
        tenant_id=request.membership.tenant_id,
    )
    if not inbox_selectors.membership_can_see(request.membership, conversation):
        raise Http404
    return conversation


def _scheduled_panel(request, conversation: Conversation, error: str = ""):
    pending = ScheduledMessage.objects.filter(
        chatbot=conversation.chatbot,
        cliente=conversation.cliente,
        status=ScheduledMessage.Status.PENDING,
    ).select_related("template")
    templates = MessageTemplate.objects.filter(chatbot=conversation.chatbot, approved=True)
    context = {
        "conversation": conversation,
        "pending": pending,
        "templates": templates,
        "error": error,
    }
    return render(request, "staff/_scheduled.html", context)


@staff_required
def scheduled_panel(request, pk: int):
    return _scheduled_panel(request, _conversation(request, pk))


@staff_required
@require_POST
def scheduled_add(request, pk: int):
    """The date and time are the tenant's clock (Tenant.time_zone), as the form shows it."""
    conversation = _conversation(request, pk)
    zone = ZoneInfo(request.membership.tenant.time_zone)
    try:
        send_at = datetime.fromisoformat(request.POST.get("send_at", "")).replace(tzinfo=zone)
    except ValueError:
        return _scheduled_panel(request, conversation, _("Escolha a data e a hora."))
    template = None
    if request.POST.get("template"):
        template = MessageTemplate.objects.filter(
            chatbot=conversation.chatbot, pk=request.POST["template"]
        ).first()
    try:
        scheduled.scheduled_create(
            chatbot=conversation.chatbot,
            cliente=conversation.cliente,
            text=request.POST.get("text", ""),
            send_at=send_at,
            template=template,
            params=[p for p in request.POST.getlist("params") if p.strip()],
            by=request.user.get_username(),
        )
    except scheduled.ScheduleError as exc:
        return _scheduled_panel(request, conversation, str(exc))
    return _scheduled_panel(request, conversation)


@staff_required
@require_POST
def scheduled_remove(request, pk: int, scheduled_pk: int):
    conversation = _conversation(request, pk)
    row = get_object_or_404(
        ScheduledMessage,
        pk=scheduled_pk,
        tenant_id=request.membership.tenant_id,
        cliente=conversation.cliente,
    )
    error = "" if scheduled.scheduled_cancel(scheduled=row) else _("Já foi enviada.")
    return _scheduled_panel(request, conversation, error)


@staff_required
def satisfaction(request):
    """Survey scores per agent and queue over the last 30 days (campaigns.surveys); for
    owners and admins, as the rest of the team's numbers."""
    if not inbox_selectors.is_manager(request.membership):
        return HttpResponse(
            _("Só proprietários e administradores veem as notas da equipe."), status=403
        )
    since = timezone.now() - timedelta(days=30)
    scores = surveys.survey_scores(tenant_id=request.membership.tenant_id, since=since)
    return render(request, "staff/satisfaction.html", {**scores, "section": "satisfaction"})
