"""Admin for message templates: the definition, the preview, submit, sync and delete.

Tenant-scoped like every admin (billing.admin_tenancy); owners and admins submit, sync and
delete, agents only look. Each action calls one service of chatbots.template_sync.

A media header's sample file is chosen on the form (`header_sample`): checked against Meta's
limits with the rest of the form, then, only when the whole form is valid, uploaded to Meta
(chatbots.template_samples) and its handle saved on the header. A refusal, ours or Meta's,
is the field's error: nothing is saved and the form keeps what was typed.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from billing.admin_tenancy import WRITE_ROLES, TenantConsistencyForm, TenantScopedAdmin, _roles
from billing.models import Membership
from chatbots import message_templates, template_samples, template_sync
from chatbots.error_codes import quality_name
from chatbots.models import Chatbot, MessageTemplate
from chatbots.providers.base import ProviderError


def _can_write(request) -> bool:
    return request.user.is_superuser or bool(_roles(request) & WRITE_ROLES)


def _writable(request, queryset):
    if request.user.is_superuser:
        return queryset
    tenant_ids = Membership.objects.filter(
        user=request.user, role__in=WRITE_ROLES, tenant__active=True
    ).values("tenant_id")
    return queryset.filter(tenant_id__in=tenant_ids)


def preview_html(template: MessageTemplate) -> str:
    """The template as a WhatsApp bubble: header, body, footer, then its buttons."""
    text = message_templates.preview(template)
    labels = [
        str(b.get("text") or _("Copiar código"))
        for b in template.buttons or []
        if isinstance(b, dict)
    ]
    lines = [line for line in text.split("\n") if line not in {f"[{label}]" for label in labels}]
    body = format_html_join("", "{}<br>", ((line,) for line in lines))
    buttons = format_html_join(
        "",
        '<div style="border-top:1px solid #d1d7db;padding:6px;text-align:center;'
        'color:#027eb5">{}</div>',
        ((label,) for label in labels),
    )
    return format_html(
        '<div style="max-width:340px;background:#fff;border-radius:8px;padding:8px 10px;'
        'box-shadow:0 1px 1px rgba(0,0,0,.15);font-family:sans-serif;white-space:normal">'
        "{}</div>{}",
        body,
        buttons,
    )


class MessageTemplateForm(TenantConsistencyForm):
    header_sample = forms.FileField(
        label=gettext_lazy("arquivo de exemplo do cabeçalho"),
        required=False,
        help_text=gettext_lazy(
            "Cabeçalho de imagem, vídeo ou PDF: o arquivo que a Meta analisa (imagem JPG ou "
            "PNG até 5 MB, vídeo MP4 até 16 MB, PDF até 100 MB). Ao salvar, ele é enviado à "
            "Meta e o identificador (handle) fica no exemplo do cabeçalho."
        ),
    )

    class Meta:
        model = MessageTemplate
        fields = ["header_format"]  # the admin's fieldsets name the rest

    def clean(self):
        cleaned = super().clean()
        sample = cleaned.get("header_sample")
        if sample:
            sample.seek(0)
            problems = template_samples.sample_problems(
                cleaned.get("header_format") or "",
                name=sample.name,
                size=sample.size,
                head=sample.read(template_samples.HEAD_BYTES),
            )
            sample.seek(0)
            for problem in problems:
                self.add_error("header_sample", problem)
        return cleaned

    def _post_clean(self):
        super()._post_clean()  # the instance now holds the form's values
        sample = self.cleaned_data.get("header_sample")
        if not sample or self.errors:
            return  # nothing reaches Meta while anything else on the form is wrong
        try:
            template_samples.template_sample_upload(
                template=self.instance, file=sample, name=sample.name
            )
        except template_samples.SampleRefused as exc:
            self.add_error("header_sample", exc.problems)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TenantScopedAdmin):
    form = MessageTemplateForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "name",
        "language",
        "chatbot",
        "category",
        "purpose",
        "status_display",
        "quality_display",
    ]
    list_filter = ["status", "category", "language"]
    list_select_related = ["chatbot", "tenant"]
    search_fields = ["name", "purpose"]
    readonly_fields = [
        "preview",
        "problems",
        "status",
        "status_reason",
        "quality_display",
        "meta_id",
        "approved",
        "synced_at",
        "status_updated_at",
    ]
    actions = ["submit_to_meta", "sync_from_meta", "delete_at_meta"]
    fieldsets = [
        (None, {"fields": ["tenant", "chatbot", "name", "language", "category", "purpose"]}),
        (
            gettext_lazy("Conteúdo"),
            {
                "fields": [
                    "parameter_format",
                    "header_format",
                    "header_text",
                    "header_example",
                    "header_sample",
                    "header_media_url",
                    "body_text",
                    "body_examples",
                    "footer_text",
                    "buttons",
                ]
            },
        ),
        (gettext_lazy("Como o cliente vê"), {"fields": ["preview", "problems"]}),
        (
            gettext_lazy("Na Meta"),
            {
                "fields": [
                    "status",
                    "status_reason",
                    "quality_display",
                    "meta_id",
                    "approved",
                    "synced_at",
                    "status_updated_at",
                ]
            },
        ),
    ]

    @admin.display(description=gettext_lazy("qualidade"))
    def quality_display(self, obj: MessageTemplate) -> str:
        return quality_name(obj.quality_score) if obj else ""

    @admin.display(description=gettext_lazy("situação"))
    def status_display(self, obj: MessageTemplate) -> str:
        return template_sync.status_label(obj)

    @admin.display(description=gettext_lazy("prévia"))
    def preview(self, obj: MessageTemplate) -> str:
        if obj is None or not (
            obj.body_text or obj.category == MessageTemplate.Category.AUTHENTICATION
        ):
            return "–"
        return preview_html(obj)

    @admin.display(description=gettext_lazy("o que a Meta recusaria"))
    def problems(self, obj: MessageTemplate) -> str:
        if obj is None or not obj.pk:
            return "–"
        found = message_templates.definition_problems(obj)
        if not found:
            return _("Nada: pode ser enviado para análise.")
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((p,) for p in found))
        )

    def save_model(self, request, obj, form, change):
        template_sync.template_definition_prepare(template=obj)
        super().save_model(request, obj, form, change)

    def has_submit_to_meta_permission(self, request) -> bool:
        return _can_write(request)

    has_sync_from_meta_permission = has_submit_to_meta_permission
    has_delete_at_meta_permission = has_submit_to_meta_permission

    @admin.action(
        description=gettext_lazy("Enviar para análise da Meta"), permissions=["submit_to_meta"]
    )
    def submit_to_meta(self, request, queryset):
        for template in _writable(request, queryset).select_related("chatbot"):
            try:
                template_sync.template_submit(template=template)
            except template_sync.TemplateInvalid as exc:
                self.message_user(
                    request, f"{template.name}: {'; '.join(exc.problems)}", messages.ERROR
                )
            except ProviderError as exc:
                self.message_user(
                    request, f"{template.name}: {exc.code} {exc.detail}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    _("%(name)s: enviado; situação %(status)s.")
                    % {"name": template.name, "status": template.get_status_display()},
                    messages.SUCCESS,
                )

    @admin.action(
        description=gettext_lazy("Sincronizar modelos com a Meta"), permissions=["sync_from_meta"]
    )
    def sync_from_meta(self, request, queryset):
        bot_ids = _writable(request, queryset).values_list("chatbot_id", flat=True)
        sync_chatbots(self, request, Chatbot.objects.filter(pk__in=bot_ids))

    @admin.action(
        description=gettext_lazy("Excluir na Meta e aqui"), permissions=["delete_at_meta"]
    )
    def delete_at_meta(self, request, queryset):
        deleted = 0
        for template in _writable(request, queryset).select_related("chatbot"):
            try:
                template_sync.template_delete(template=template)
            except ProviderError as exc:
                self.message_user(
                    request, f"{template.name}: {exc.code} {exc.detail}", messages.ERROR
                )
            else:
                deleted += 1
        if deleted:
            self.message_user(
                request,
                ngettext("%(n)d modelo excluído.", "%(n)d modelos excluídos.", deleted)
                % {"n": deleted},
                messages.SUCCESS,
            )


def sync_chatbots(model_admin, request, chatbots) -> None:
    """The admin's "sync": every template of each bot's WABA, with a line per bot."""
    for chatbot in chatbots.order_by("name"):
        result = template_sync.templates_sync(chatbot=chatbot)
        if result.error:
            model_admin.message_user(request, f"{chatbot.name}: {result.error}", messages.ERROR)
            continue
        model_admin.message_user(
            request,
            _("%(bot)s: %(new)d novo(s), %(updated)d atualizado(s), %(gone)d excluído(s) na Meta.")
            % {
                "bot": chatbot.name,
                "new": len(result.created),
                "updated": len(result.updated),
                "gone": len(result.gone),
            },
            messages.SUCCESS,
        )
