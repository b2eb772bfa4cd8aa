"""Admin for what the assistant knows: knowledge entries and the business profile.

Both are tenant-scoped (billing.admin_tenancy). Their pages say when AI is off and how to
turn it on; the assistant still answers then, from these entries, by keyword.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin_tenancy import TenantScopedAdmin
from chatbots.ai.client import ai_configured
from chatbots.models import BusinessProfile, KnowledgeEntry

AI_OFF_NOTICE = gettext_lazy(
    "A IA está desligada: o assistente responde aos clientes procurando as palavras da "
    "pergunta nesta base de conhecimento (e nos horários, endereço, produtos e serviços). "
    "Para ligar a IA (respostas com Gemini), o administrador do servidor define a variável "
    "de ambiente GEMINI_API_KEY com uma chave do Google AI Studio "
    "(https://aistudio.google.com/apikey) e reinicia o sistema; o plano da empresa também "
    "precisa incluir respostas com IA."
)


class AINoticeMixin:
    """Shows AI_OFF_NOTICE on the list and the form while no GEMINI_API_KEY is set."""

    def _notice(self, request) -> None:
        if not ai_configured():
            messages.warning(request, str(AI_OFF_NOTICE))

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            self._notice(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "GET":
            self._notice(request)
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(AINoticeMixin, TenantScopedAdmin):
    list_display = ["short_question", "kind", "short_answer", "active", "updated_at", "tenant"]
    list_display_links = ["short_question"]
    list_filter = ["kind", "active"]
    search_fields = ["question", "answer"]
    fields = ["tenant", "kind", "question", "answer", "active"]
    list_select_related = ["tenant"]

    @admin.display(description=gettext_lazy("pergunta"), ordering="question")
    def short_question(self, obj: KnowledgeEntry) -> str:
        return Truncator(obj.question or _("(texto livre)")).chars(80)

    @admin.display(description=gettext_lazy("resposta ou texto"))
    def short_answer(self, obj: KnowledgeEntry) -> str:
        return Truncator(obj.answer).chars(100)


@admin.register(BusinessProfile)
class BusinessProfileAdmin(AINoticeMixin, TenantScopedAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["tenant", "phone", "website", "updated_at"]
    fields = [
        "tenant",
        "address",
        "opening_hours",
        "phone",
        "website",
        "allowed_link_domains",
        "about",
    ]
    list_select_related = ["tenant"]
