"""The admin's list filters for bots, conversations, messages and events: each lists only
what the user's tenants have, and none runs a DISTINCT over a table that grows without
bound (chatbots.admin)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy

from billing.tenancy import user_tenants
from chatbots.error_codes import error_code_label
from chatbots.models import Chatbot, Message


def tenant_chatbot_filter(field_path: str):
    """A chatbot filter that lists only the user's tenants' bots.

    Django's RelatedFieldListFilter would list every tenant's bots by name.
    """

    class ChatbotFilter(admin.SimpleListFilter):
        title = gettext_lazy("chatbot")
        parameter_name = "chatbot"

        def lookups(self, request, model_admin):
            bots_qs = Chatbot.objects.all()
            if not request.user.is_superuser:
                bots_qs = bots_qs.filter(tenant__in=user_tenants(request.user))
            return [(str(pk), name) for pk, name in bots_qs.values_list("pk", "name")]

        def queryset(self, request, queryset):
            value = self.value()
            if value and value.isdigit():
                return queryset.filter(**{field_path: int(value)})
            return queryset

    return ChatbotFilter


class ProviderFilter(admin.SimpleListFilter):
    """The registered providers; a DISTINCT over the event table would scan all of it."""

    title = gettext_lazy("provedor")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        from chatbots.providers.registry import provider_choices

        return provider_choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(provider=self.value())
        return queryset


class RecentErrorCodeFilter(admin.SimpleListFilter):
    """Error codes seen on failed messages of the last days.

    Bounded by the created_at index; a DISTINCT over the whole message table would not be.
    """

    title = gettext_lazy("código do erro")
    parameter_name = "error_code"
    days = 7

    def lookups(self, request, model_admin):
        since = timezone.now() - timedelta(days=self.days)
        codes = set(
            model_admin.get_queryset(request)
            .filter(created_at__gte=since, status=Message.Status.FAILED)
            .exclude(error_code="")
            .order_by()
            .values_list("error_code", flat=True)
            .distinct()[:50]
        )
        if self.value():
            codes.add(self.value())
        return [(c, error_code_label(c)) for c in sorted(codes)]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(error_code=self.value())
        return queryset
