"""Campaigns in the admin: a draft is written here (its variants inline) or through the API;
start, pause, resume, cancel and retry go through campaigns.services (the same rules as the
API and the staff app). The progress and the numbers are read from campaigns.stats.
Scoped to the user's tenants like every other admin (billing.admin_tenancy)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404, JsonResponse
from django.template.defaultfilters import linebreaksbr
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin_tenancy import TenantScopedAdmin, TenantScopedInline
from campaigns import previews, scheduled, services, stats
from campaigns.models import (
    Campaign,
    ContactImport,
    ScheduledMessage,
    Survey,
    SurveyConfig,
    Variant,
)
from campaigns.params import count_problem, param_problems


def _progress_label(campaign: Campaign, numbers: dict) -> str:
    return _("%(pct)d%% · %(sent)d de %(total)d enviadas · %(status)s") % {
        "pct": numbers["progress"],
        "sent": numbers["sent"],
        "total": numbers["total"],
        "status": campaign.get_status_display(),
    }


class VariantForm(forms.ModelForm):
    """The parameters' sources and their count against the template, at the field."""

    def clean(self):
        data = super().clean()
        template, params = data.get("template"), data.get("params")
        if template is not None and isinstance(params, list):
            if problems := param_problems(params):
                self.add_error("params", "; ".join(problems))
            elif problem := count_problem(template, params):
                self.add_error("params", problem)
        return data


class VariantInline(TenantScopedInline, admin.TabularInline):
    model = Variant
    form = VariantForm
    fields = ["label", "template", "params", "winner"]
    readonly_fields = ["winner"]
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(TenantScopedAdmin):
    list_display = ["name", "chatbot", "status", "progress", "scheduled_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    inlines = [VariantInline]
    readonly_fields = [
        "status",
        "progress",
        "preview",
        "numbers",
        "stopped_reason",
        "next_run_at",
        "started_at",
        "finished_at",
    ]
    fields = [
        "tenant",
        "name",
        "chatbot",
        "audience",
        "goal",
        "strategy",
        "scheduled_at",
        "repeat_days",
        "reply_step",
        "reply_queue",
        *readonly_fields,
    ]
    actions = ["start", "pause", "resume", "cancel", "retry_failed"]

    class Media:
        js = ["campaigns/admin_progress.js"]

    @admin.display(description=gettext_lazy("progresso"))
    def progress(self, obj: Campaign):
        if not obj.pk:
            return "-"
        numbers = stats.campaign_numbers(campaign=obj)
        return format_html(
            '<progress max="100" value="{}" data-progress-url="{}" data-active="{}"></progress>'
            ' <span class="campaign-progress-label">{}</span>',
            numbers["progress"],
            reverse("admin:campaigns_campaign_progress", args=[obj.pk]),
            "1" if obj.status in services.ACTIVE else "0",
            _progress_label(obj, numbers),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/progress/",
                view(self.progress_view),
                name="campaigns_campaign_progress",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request, object_id: int):
        """The numbers of the progress bar, for the admin page to follow the run."""
        campaign = self.get_queryset(request).filter(pk=object_id).first()
        if campaign is None or not self.has_view_permission(request, campaign):
            raise Http404
        numbers = stats.campaign_numbers(campaign=campaign)
        return JsonResponse(
            {
                "progress": numbers["progress"],
                "active": campaign.status in services.ACTIVE,
                "label": _progress_label(campaign, numbers),
            }
        )

    @admin.display(description=gettext_lazy("prévia"))
    def preview(self, obj: Campaign):
        """The first customers' messages, each with their own values (the assistant's
        included), while the campaign is a draft."""
        if not obj.pk or obj.status != Campaign.Status.DRAFT:
            return "-"
        rows = previews.campaign_preview(campaign=obj)
        if not rows:
            return _("Nenhum cliente no público.")
        return format_html_join(
            "",
            '<p class="campaign-preview"><strong>{}</strong> ({}){}<br>{}</p>',
            (
                (
                    row.cliente_nome or row.telefone,
                    row.variant.label,
                    _(" · o assistente ainda está escrevendo")
                    if row.pending
                    else (_(" · valor padrão") if row.fallback else ""),
                    linebreaksbr(row.text),
                )
                for row in rows
            ),
        )

    @admin.display(description=gettext_lazy("números"))
    def numbers(self, obj: Campaign):
        if not obj.pk:
            return "-"
        n = stats.campaign_numbers(campaign=obj)
        return (
            _(
                "%(sent)d enviadas, %(delivered)d entregues, %(read)d lidas, %(replied)d "
                "responderam, %(orders)d pedidos em 24 h, %(failed)d falharam, %(skipped)d "
                "ignoradas (%(opted_out)d por descadastro)"
            )
            % n
        )

    def _each(self, request, queryset, action, done_msg):
        count = 0
        for campaign in queryset:
            try:
                if action(campaign=campaign):
                    count += 1
            except services.CampaignError as exc:
                self.message_user(request, f"{campaign}: {exc}", messages.ERROR)
        if count:
            self.message_user(request, done_msg % {"n": count}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Iniciar"))
    def start(self, request, queryset):
        self._each(request, queryset, services.campaign_start, _("%(n)d campanha(s) iniciada(s)."))

    @admin.action(description=gettext_lazy("Pausar"))
    def pause(self, request, queryset):
        self._each(request, queryset, services.campaign_pause, _("%(n)d campanha(s) pausada(s)."))

    @admin.action(description=gettext_lazy("Retomar"))
    def resume(self, request, queryset):
        self._each(request, queryset, services.campaign_resume, _("%(n)d campanha(s) retomada(s)."))

    @admin.action(description=gettext_lazy("Cancelar"))
    def cancel(self, request, queryset):
        self._each(
            request, queryset, services.campaign_cancel, _("%(n)d campanha(s) cancelada(s).")
        )

    @admin.action(description=gettext_lazy("Reenviar as falhas temporárias"))
    def retry_failed(self, request, queryset):
        self._each(
            request,
            queryset,
            services.campaign_retry_failed,
            _("Falhas reenviadas em %(n)d campanha(s)."),
        )


@admin.register(SurveyConfig)
class SurveyConfigAdmin(TenantScopedAdmin):
    list_display = ["tenant", "enabled", "kind", "delay_minutes"]
    fields = ["tenant", "enabled", "kind", "question", "delay_minutes"]


@admin.register(Survey)
class SurveyAdmin(TenantScopedAdmin):
    list_display = ["sent_at", "agent", "queue", "status", "score"]
    list_filter = ["status", "score"]
    readonly_fields = [
        "ticket",
        "conversation",
        "agent",
        "queue",
        "message",
        "status",
        "reason",
        "score",
        "sent_at",
        "answered_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, *args):
        return False


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(TenantScopedAdmin):
    list_display = ["send_at", "cliente", "chatbot", "status", "created_by"]
    list_filter = ["status"]
    readonly_fields = ["status", "reason", "message", "created_by", "created_at"]
    actions = ["cancel"]

    @admin.action(description=gettext_lazy("Cancelar as mensagens ainda não enviadas"))
    def cancel(self, request, queryset):
        n = sum(scheduled.scheduled_cancel(scheduled=row) for row in queryset)
        self.message_user(request, _("%(n)d mensagem(ns) cancelada(s).") % {"n": n})


@admin.register(ContactImport)
class ContactImportAdmin(TenantScopedAdmin):
    list_display = ["name", "created_at", "created_by"]
    readonly_fields = ["name", "created_at", "created_by"]
    fields = readonly_fields

    def has_add_permission(self, request, *args):
        return False  # through the API (POST /api/campaigns/imports/), which checks the CSV
