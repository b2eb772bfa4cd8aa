"""Services raise Django's ValidationError; the API answers it as a 400 with the messages.
And Django's own error answers under /api/ are JSON (below)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)


# --- What Django itself answers under /api/ ------------------------------------------------
# A URL that matches no route, a request Django refuses (a bad Host), an error that escaped
# a view: Django answers those with its HTML pages. Under /api/ they are JSON like every
# other API answer (`{"detail": ...}`), elsewhere Django's pages as before. Django:
# https://docs.djangoproject.com/en/5.2/topics/http/views/#customizing-error-views

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def api_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("Não encontrado.")}, status=404)
    return defaults.page_not_found(request, exception)


def api_bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": _("Requisição inválida.")}, status=400)
    return defaults.bad_request(request, exception)


def api_permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse(
            {"detail": _("Você não tem permissão para executar essa ação.")}, status=403
        )
    return defaults.permission_denied(request, exception)


def api_server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"detail": _("Erro interno do servidor. O erro foi registrado.")}, status=500
        )
    return defaults.server_error(request)
