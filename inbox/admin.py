"""The inbox in the admin: queues (members, hours, holidays, messages) and quick replies are
configured by owners and admins; tickets and notes are read-only records (the work happens
in the staff app and the API, through inbox.services). Scoped to the user's tenants like
every other admin (billing.admin_tenancy)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from billing.admin_tenancy import TenantConsistencyForm, TenantScopedAdmin, TenantScopedInline
from billing.tenancy import user_tenants
from inbox.models import Note, Queue, QueueHoliday, QueueHours, QuickReply, Ticket


class QueueHoursInline(TenantScopedInline, admin.TabularInline):
    model = QueueHours
    fields = ["weekday", "opens", "closes"]
    extra = 0


class QueueHolidayInline(TenantScopedInline, admin.TabularInline):
    model = QueueHoliday
    fields = ["date", "name"]
    extra = 0


class QueueForm(TenantConsistencyForm):
    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        members = cleaned.get("members")
        if tenant is not None and members is not None:
            outside = members.exclude(memberships__tenant=tenant)
            if outside.exists():
                raise ValidationError(
                    {"members": _("Só pessoas da equipe desta empresa podem estar na fila.")}
                )
        return cleaned


@admin.register(Queue)
class QueueAdmin(TenantScopedAdmin):
    form = QueueForm
    list_display = ["name", "slug", "is_default", "auto_assign", "max_per_agent", "timeout_minutes"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]
    inlines = [QueueHoursInline, QueueHolidayInline]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "slug", "is_default", "members"]}),
        (_("Horário"), {"fields": ["time_zone"]}),
        (_("Mensagens ao cliente"), {"fields": ["position_message", "closed_message"]}),
        (
            _("Espera e distribuição"),
            {
                "fields": [
                    "timeout_minutes",
                    "timeout_action",
                    "timeout_message",
                    "auto_assign",
                    "max_per_agent",
                ]
            },
        ),
    ]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members" and not request.user.is_superuser:
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(memberships__tenant__in=user_tenants(request.user))
                .distinct()
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_formset(self, request, form, formset, change):
        rows = formset.save(commit=False)
        for row in formset.deleted_objects:
            row.delete()
        for row in rows:
            row.tenant_id = form.instance.tenant_id
            row.queue = form.instance
            row.save()
        formset.save_m2m()


class QuickReplyForm(TenantConsistencyForm):
    class Meta:
        model = QuickReply
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        taken = QuickReply.objects.filter(
            tenant=tenant, queue=cleaned.get("queue"), shortcut=cleaned.get("shortcut")
        ).exclude(pk=self.instance.pk)
        if tenant is not None and taken.exists():
            raise forms.ValidationError(
                {"shortcut": _("Já existe essa resposta rápida para essa fila.")}
            )
        return cleaned


@admin.register(QuickReply)
class QuickReplyAdmin(TenantScopedAdmin):
    form = QuickReplyForm
    list_display = ["shortcut", "queue", "text"]
    list_select_related = ["queue"]
    search_fields = ["shortcut", "text"]


class ReadOnlyAdmin(TenantScopedAdmin):
    """A record of the work: changed only through inbox.services."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoteInline(TenantScopedInline, admin.TabularInline):
    model = Note
    fields = ["created_at", "author", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = [
        "conversation",
        "queue",
        "status",
        "assigned_to",
        "opened_at",
        "closed_at",
        "outcome",
    ]  # seven columns fit a laptop screen; the first response time is on the ticket's page
    list_filter = ["status", "queue", "outcome"]
    list_select_related = ["queue", "assigned_to", "conversation__cliente", "conversation__chatbot"]
    date_hierarchy = "opened_at"
    show_full_result_count = False  # no COUNT(*) over a large table on every page
    inlines = [NoteInline]


@admin.register(Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "conversation", "author", "text"]
    list_select_related = ["author", "conversation__cliente", "conversation__chatbot"]
    search_fields = ["text"]
    show_full_result_count = False
