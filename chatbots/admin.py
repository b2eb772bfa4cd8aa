"""Admin for bots, flows, conversations, messages and inbound events.

Every admin is tenant-scoped (billing.admin_tenancy): staff see only their tenants' rows,
in lists, forms, filters and actions. Writes on bots and steps go through chatbots.bots.
Message, conversation and inbound-event tables grow without bound, so their lists never run
COUNT(*) over the whole table (config.paginator, show_full_result_count = False).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.admin_tenancy import WRITE_ROLES, TenantScopedAdmin, TenantScopedInline, _roles
from billing.models import Membership
from chatbots import bots, selectors, template_sync
from chatbots.admin_filters import ProviderFilter, RecentErrorCodeFilter, tenant_chatbot_filter
from chatbots.error_codes import error_code_label, quality_name, tier_name
from chatbots.forms import ChatbotAdminForm, StepInlineForm, handler_help
from chatbots.models import (
    AccountStatus,
    Chatbot,
    Conversation,
    InboundEvent,
    Message,
    MessageTemplate,
    Step,
)
from config.paginator import LargeTablePaginator
from inbox import services as inbox_services
from media.templatetags.media_tags import message_media

# --- Shared pieces -----------------------------------------------------------------------------


class SummaryDeleteMixin:
    """A delete confirmation that names what goes without listing every related row.

    Django's default walks every message and event of a bot or conversation to list them
    (millions of rows) and asks for delete permission on each related model; the rows
    still go, by the database cascade.
    """

    cascade_note = ""

    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        summary = {self.opts.verbose_name_plural: len(objs)}
        if self.cascade_note:
            summary[str(self.cascade_note)] = _("todos")
        return [str(obj) for obj in objs], summary, set(), []


def _can_write(request) -> bool:
    return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)


def _can_read(request) -> bool:
    return request.user.is_superuser or bool(_roles(request))


def _writable(request, queryset):
    """Rows of the tenants where the user is owner or admin (an agent elsewhere is not)."""
    if request.user.is_superuser:
        return queryset
    tenant_ids = Membership.objects.filter(
        user=request.user, role__in=WRITE_ROLES, tenant__active=True
    ).values("tenant_id")
    return queryset.filter(tenant_id__in=tenant_ids)


# --- Chatbot, its steps and templates ---------------------------------------------------------


class StepInline(TenantScopedInline, admin.TabularInline):
    model = Step
    form = StepInlineForm
    fields = ["order", "code", "handler_path", "config", "active"]
    ordering = ["order", "id"]
    extra = 1


class MessageTemplateInline(TenantScopedInline, admin.TabularInline):
    model = MessageTemplate
    fields = ["name", "language", "param_count", "purpose", "approved", "status"]
    readonly_fields = ["status"]  # Meta's; the full definition: chatbots.template_admin
    extra = 0
    show_change_link = True


SECRET_STATUS = {name: f"{name}_status" for name in bots.SECRET_FIELDS}


def _secret_status(value: str) -> str:
    return _("definido") if value else _("não definido")


@admin.register(Chatbot)
class ChatbotAdmin(SummaryDeleteMixin, TenantScopedAdmin):
    form = ChatbotAdminForm
    cascade_note = gettext_lazy("etapas, modelos, conversas, mensagens e eventos destes chatbots")
    list_display = ["name", "provider", "display_number", "active", "tenant", "updated_at"]
    list_filter = ["active", ProviderFilter]
    list_select_related = ["tenant"]
    search_fields = ["name", "display_number", "phone_number_id"]
    readonly_fields = [
        "created_at",
        "updated_at",
        "quality_display",
        "tier_display",
        "account_status",
        "account_restricted_until",
        "account_detail",
    ]
    inlines = [StepInline, MessageTemplateInline]
    actions = ["test_connection", "sync_templates"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "active", "language", "display_number"]}),
        (
            gettext_lazy("Provedor"),
            {
                "fields": [
                    "provider",
                    "phone_number_id",
                    "waba_id",
                    "verify_token",
                    "access_token",
                    "app_secret",
                    "provider_config",
                    "provider_secrets",
                    "messages_per_second",
                ]
            },
        ),
        (gettext_lazy("Comportamento"), {"fields": ["options"]}),
        (
            gettext_lazy("Situação na Meta"),
            {
                "fields": [
                    "quality_display",
                    "tier_display",
                    "account_status",
                    "account_restricted_until",
                    "account_detail",
                ]
            },
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        editable = self.has_change_permission(request, obj) or (
            obj is None and self.has_add_permission(request)
        )
        if editable:
            return fieldsets
        # A view-only page (an agent) shows fields as their stored values: the secrets
        # become "definido"/"não definido" instead.
        return [
            (title, {**opts, "fields": [SECRET_STATUS.get(f, f) for f in opts["fields"]]})
            for title, opts in fieldsets
        ]

    @admin.display(description=gettext_lazy("qualidade do número"))
    def quality_display(self, obj: Chatbot) -> str:
        return quality_name(obj.quality_rating) if obj else ""

    @admin.display(description=gettext_lazy("limite de conversas iniciadas"))
    def tier_display(self, obj: Chatbot) -> str:
        return tier_name(obj.messaging_limit_tier) if obj else ""

    @admin.display(description=gettext_lazy("token de acesso"))
    def access_token_status(self, obj) -> str:
        return _secret_status(obj.access_token)

    @admin.display(description=gettext_lazy("app secret"))
    def app_secret_status(self, obj) -> str:
        return _secret_status(obj.app_secret)

    @admin.display(description=gettext_lazy("segredos do provedor"))
    def provider_secrets_status(self, obj) -> str:
        return _secret_status(obj.provider_secrets)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Steps, messages and conversations carry the bot's tenant: it never moves.
            fields.append("tenant")
        return fields

    def changelist_view(self, request, extra_context=None):
        _warn_blocked(self, request, self.get_queryset(request))
        return super().changelist_view(request, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.method == "GET":
            _warn_blocked(self, request, Chatbot.objects.filter(pk=obj.pk))
        context["handler_help"] = handler_help()
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        data = {
            name: value
            for name, value in form.cleaned_data.items()
            if name in bots.CHATBOT_FIELDS and name not in bots.SECRET_FIELDS
        }
        data.update(form.secret_changes)
        if change:
            bots.chatbot_update(chatbot=obj, clear_secrets=form.secrets_to_clear, **data)
            return
        created = bots.chatbot_create(tenant=obj.tenant, **data)
        # The inline formsets were built around `obj`: give it the saved row's identity.
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db
        obj.created_at, obj.updated_at = created.created_at, created.updated_at

    def save_formset(self, request, form, formset, change):
        chatbot = form.instance
        if formset.model is Step:
            formset.save(commit=False)
            # Deletions first, so a code freed by one row can be taken by another.
            for step in formset.deleted_objects:
                bots.step_delete(step=step)
            for step, changed in formset.changed_objects:
                fields = {f: getattr(step, f) for f in changed if f in bots.STEP_FIELDS}
                bots.step_update(step=step, **fields)
            for step in formset.new_objects:
                created = bots.step_create(
                    chatbot=chatbot,
                    code=step.code,
                    handler_path=step.handler_path,
                    order=step.order,
                    config=step.config,
                    active=step.active,
                )
                step.pk = created.pk
            return
        if formset.model is MessageTemplate:
            for template in formset.save(commit=False):
                template.tenant_id = chatbot.tenant_id
                # A template with Meta's status stays approved only when Meta approved it.
                template_sync.template_definition_prepare(template=template).save()
            for template in formset.deleted_objects:
                template.delete()
            return
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for warning in selectors.chatbot_flow_warnings(chatbot=form.instance):
            self.message_user(request, warning, messages.WARNING)

    def has_test_connection_permission(self, request) -> bool:
        return _can_write(request)

    @admin.action(
        description=gettext_lazy("Testar conexão com o provedor"), permissions=["test_connection"]
    )
    def test_connection(self, request, queryset):
        from chatbots.connection import chatbot_check_connection

        for chatbot in _writable(request, queryset).order_by("name"):
            ok, detail = chatbot_check_connection(chatbot=chatbot)
            self.message_user(
                request,
                f"{chatbot.name}: {detail}",
                messages.SUCCESS if ok else messages.ERROR,
            )

    def has_sync_templates_permission(self, request) -> bool:
        return _can_write(request)

    @admin.action(
        description=gettext_lazy("Sincronizar modelos de mensagem com a Meta"),
        permissions=["sync_templates"],
    )
    def sync_templates(self, request, queryset):
        from chatbots.template_admin import sync_chatbots

        sync_chatbots(self, request, _writable(request, queryset))


def _warn_blocked(model_admin, request, chatbots) -> None:
    """The admin notice of a restricted or banned WhatsApp account (account_update)."""
    blocked = chatbots.exclude(account_status=AccountStatus.OK).only(
        "name", "account_status", "account_restricted_until", "account_detail"
    )
    for chatbot in blocked[:10]:
        if why := chatbot.business_initiated_blocked():
            model_admin.message_user(request, f"{chatbot.name}: {why}", messages.WARNING)


# --- Conversations --------------------------------------------------------------------------


class RecentMessagesFormSet(BaseInlineFormSet):
    """Only the newest messages of a conversation, shown oldest first."""

    limit = 50

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            ids = list(self.queryset.order_by("-id").values_list("id", flat=True)[: self.limit])
            self._queryset = (
                self.queryset.filter(id__in=ids)
                .select_related("attachment__file")  # the files shown beside the text
                .order_by("id")
            )
        return self._queryset


class MessageInline(TenantScopedInline, admin.TabularInline):
    model = Message
    formset = RecentMessagesFormSet
    fields = ["created_at", "direction", "type", "text", "files", "status", "error_code"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("últimas mensagens")

    @admin.display(description=gettext_lazy("arquivo ou local"))
    def files(self, obj) -> str:
        # The staff app's rendering: a thumbnail, a player, a document with name and size
        # or a place with its map link, through the same signed links (app media).
        return render_to_string("media/_message_media.html", message_media(obj))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(SummaryDeleteMixin, TenantScopedAdmin):
    cascade_note = gettext_lazy("mensagens destas conversas")
    list_display = [
        "cliente",
        "chatbot",
        "status",
        "current_step",
        "last_customer_message_at",
        "last_customer_text",
        "updated_at",
    ]
    list_filter = ["status", tenant_chatbot_filter("chatbot_id")]
    list_select_related = ["cliente", "chatbot"]
    search_fields = ["cliente__nome", "=cliente__telefone"]
    fields = [
        "chatbot",
        "cliente",
        "status",
        "current_step",
        "last_customer_message_at",
        "all_messages",
        "state",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [f for f in fields if f != "status"]
    inlines = [MessageInline]
    paginator = LargeTablePaginator
    show_full_result_count = False
    # Attendants take conversations over (status human), hand them back or close them.
    agent_can_change = True

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_last_text=selectors.last_customer_text())

    @admin.display(description=gettext_lazy("última mensagem"))
    def last_customer_text(self, obj) -> str:
        return Truncator(obj._last_text or "").chars(60)

    @admin.display(description=gettext_lazy("mensagens"))
    def all_messages(self, obj) -> str:
        url = reverse("admin:chatbots_message_changelist")
        return format_html(
            '<a href="{}?conversation__id__exact={}">{}</a>', url, obj.pk, _("ver todas")
        )

    def has_add_permission(self, request):
        return False  # conversations start when a customer writes

    def save_model(self, request, obj, form, change):
        # Only the status is editable here; setting just it never overwrites the step or
        # state the engine may have moved since this form was loaded. The attendant inbox
        # keeps its ticket in step (taken, closed, back to the bot).
        if "status" in form.changed_data:
            inbox_services.conversation_status_set(obj, request.user, obj.status)


# --- Messages -------------------------------------------------------------------------------


@admin.register(Message)
class MessageAdmin(TenantScopedAdmin):
    # Seven columns fit a laptop screen; the id and attempts are on the message's page.
    list_display = [
        "created_at",
        "cliente",
        "direction",
        "type",
        "preview",
        "status",
        "error",
    ]
    list_filter = [
        "direction",
        "status",
        RecentErrorCodeFilter,
        tenant_chatbot_filter("conversation__chatbot_id"),
        "intent",  # what customers want and how they feel (chatbots.ai.intent)
        "polarity",
    ]
    list_select_related = ["conversation__cliente", "conversation__chatbot"]
    search_fields = ["=provider_message_id", "=conversation__cliente__telefone"]
    ordering = ["-id"]  # the primary key index; created_at order without a sort
    paginator = LargeTablePaginator
    show_full_result_count = False
    actions = ["retry"]

    @admin.display(description=gettext_lazy("cliente"))
    def cliente(self, obj) -> str:
        return str(obj.conversation.cliente)

    @admin.display(description=gettext_lazy("texto"))
    def preview(self, obj) -> str:
        return Truncator(obj.text).chars(60)

    @admin.display(description=gettext_lazy("erro"), ordering="error_code")
    def error(self, obj) -> str:
        return error_code_label(obj.error_code)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the outbox and the record of what was said: never edited by hand

    def has_retry_permission(self, request) -> bool:
        return _can_read(request)

    @admin.action(description=gettext_lazy("Reenviar mensagens com falha"), permissions=["retry"])
    def retry(self, request, queryset):
        from chatbots.outbox import sending

        ids = list(
            queryset.filter(
                direction=Message.Direction.OUT, status=Message.Status.FAILED
            ).values_list("id", flat=True)
        )
        count = sending.retry_failed(message_ids=ids) if ids else 0
        self.message_user(
            request,
            ngettext(
                "%(count)d mensagem voltou para a fila de envio.",
                "%(count)d mensagens voltaram para a fila de envio.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )


# --- Inbound events -------------------------------------------------------------------------


@admin.register(InboundEvent)
class InboundEventAdmin(TenantScopedAdmin):
    list_display = [
        "received_at",
        "provider",
        "chatbot",
        "kind",
        "contact_key",
        "state",
        "attempts",
    ]
    list_filter = ["state", "kind", ProviderFilter, tenant_chatbot_filter("chatbot_id")]
    list_select_related = ["chatbot"]
    search_fields = ["=external_id", "=contact_key"]
    ordering = ["-id"]  # the primary key index, roughly arrival order
    paginator = LargeTablePaginator
    show_full_result_count = False
    actions = ["requeue"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the record of what the provider sent

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_requeue_permission(self, request) -> bool:
        return _can_write(request)

    @admin.action(description=gettext_lazy("Processar novamente"), permissions=["requeue"])
    def requeue(self, request, queryset):
        from chatbots import inbound

        ids = list(_writable(request, queryset).values_list("id", flat=True))
        count = inbound.requeue(event_ids=ids) if ids else 0
        self.message_user(
            request,
            ngettext(
                "%(count)d evento voltou para a fila de processamento.",
                "%(count)d eventos voltaram para a fila de processamento.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )


# The assistant's knowledge base and business profile (chatbots.ai).
# Message templates: definition, preview, submit, sync (chatbots.template_admin).
from chatbots import template_admin as _template_admin  # noqa: E402,F401
from chatbots.ai import admin as _ai_admin  # noqa: E402,F401
