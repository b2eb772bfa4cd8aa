"""Login lockout glue for django-axes: who is trying, until when they are locked, what they read.

The admin login and the API token endpoint share one lockout (README "Login e bloqueio"):
AXES_FAILURE_LIMIT failures counted per username and, separately, per client address
(config.client_ip) within AXES_COOLOFF_TIME lock that username, or that address, out. Failures
are stored by axes' database handler (AccessAttempt rows), which works the same on
PostgreSQL and on the embedded SQLite, and a lockout ends on its own: no operator needed.

Refused attempts during a lockout are not counted (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_-
LOCKOUT = False), so the time we announce is the time it ends, also for the right password.
"""

from __future__ import annotations

import math
from datetime import datetime

from axes.helpers import (
    get_client_parameters,
    get_client_username,
    get_cool_off,
    get_failure_limit,
)
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

LOCKED_STATUS = 429  # Too Many Requests (RFC 6585), with Retry-After
MAX_USERNAME_CHARS = 255  # AccessAttempt.username


def login_username(request, credentials: dict | None = None) -> str | None:
    """The username a login attempt names, trimmed and case-folded, so "Ana " and "ana"
    count as one (AXES_USERNAME_CALLABLE)."""
    field = get_user_model().USERNAME_FIELD
    value = (credentials or {}).get(field)
    if value is None:
        data = getattr(request, "data", None)
        if data is None:
            data = getattr(request, "POST", {})
        try:
            value = data.get(field)
        except Exception:  # an unreadable body names nobody
            value = None
    if not isinstance(value, str):
        return None
    return value.strip().casefold()[:MAX_USERNAME_CHARS] or None


def lockout_until(request, credentials: dict | None = None) -> datetime:
    """When the lockout of this request's username or address ends.

    Attempts are kept per (username, address, user agent) with the time of their latest
    failure and expire AXES_COOLOFF_TIME after it; a lockout holds while the unexpired
    failures of the username (or of the address) reach the limit. So it ends when enough of
    the oldest ones have expired to bring the count under it.
    """
    cool_off = get_cool_off(request)
    now = timezone.now()
    limit = get_failure_limit(request, credentials)
    username = get_client_username(request, credentials)
    ends = []
    filters = get_client_parameters(
        username,
        getattr(request, "axes_ip_address", None),
        getattr(request, "axes_user_agent", ""),
        request,
        credentials,
    )
    for lookup in filters:
        rows = list(
            AccessAttempt.objects.filter(**lookup, attempt_time__gte=now - cool_off)
            .order_by("attempt_time")
            .values_list("attempt_time", "failures_since_start")
        )
        remaining = sum(failures for _, failures in rows)
        end = None
        for attempt_time, failures in rows:
            if remaining < limit:
                break
            end = attempt_time + cool_off
            remaining -= failures
        if end is not None:
            ends.append(end)
    return max(ends) if ends else now + cool_off


def lockout_payload(request, credentials: dict | None = None) -> dict:
    """The pt-BR answer to a locked-out login: the message, when it ends, and in seconds."""
    until = lockout_until(request, credentials)
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    minutes = math.ceil(seconds / 60)
    detail = ngettext(
        "Muitas tentativas de login sem sucesso: o acesso foi bloqueado por segurança. "
        "Tente novamente às %(hora)s (daqui a %(minutos)d minuto).",
        "Muitas tentativas de login sem sucesso: o acesso foi bloqueado por segurança. "
        "Tente novamente às %(hora)s (daqui a %(minutos)d minutos).",
        minutes,
    ) % {"hora": timezone.localtime(until).strftime("%H:%M"), "minutos": minutes}
    return {
        "detail": detail,
        "code": "login_locked",
        "locked_until": until.isoformat(),
        "retry_after": seconds,
    }


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or "application/json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """What a locked-out login gets (AXES_LOCKOUT_CALLABLE): the admin's page, or JSON."""
    payload = lockout_payload(request, credentials)
    headers = {"Retry-After": str(payload["retry_after"])}
    if _wants_json(request):
        return JsonResponse(payload, status=LOCKED_STATUS, headers=headers)
    context = {
        **admin.site.each_context(request),
        "title": _("Acesso bloqueado temporariamente"),
        "message": payload["detail"],
        "retry_url": request.get_full_path(),
    }
    response = TemplateResponse(
        request, "admin/login_locked.html", context, status=LOCKED_STATUS, headers=headers
    )
    return response.render()
