"""`Authorization: Api-Key <key>` for machine clients; the key names its tenant."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from billing.models import TenantAPIKey
from billing.tenancy import APIKeyClient

KEYWORD = "Api-Key"


class TenantAPIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith(KEYWORD + " "):
            return None  # let JWT or session authentication try
        key = header[len(KEYWORD) + 1 :].strip()
        # The library's get_from_key() lives on the manager (not on a queryset, so it cannot
        # be combined with select_related) and hides revoked keys; look the prefix up here so
        # a revoked key gets its own message and the tenant comes in the same query.
        prefix, _sep, _rest = key.partition(".")
        api_key = TenantAPIKey.objects.select_related("tenant").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed(_("Chave de API inválida."))
        if api_key.has_expired or api_key.revoked:
            raise exceptions.AuthenticationFailed(_("Chave de API revogada ou expirada."))
        return APIKeyClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


class TenantAPIKeyScheme(OpenApiAuthenticationExtension):
    target_class = "billing.api.authentication.TenantAPIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create one with `manage.py create_api_key`.",
        }
