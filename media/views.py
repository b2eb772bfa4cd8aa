"""Opening a stored file: only through a signed, short-lived link, only for staff of the
file's tenant. A forged or expired link is a 404; a signed-in user of another tenant, 403."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponseForbidden

from billing.models import Membership
from media.services import media_from_link


def media_file(request: HttpRequest, token: str):
    media_file = media_from_link(token)
    if media_file is None:
        raise Http404
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    member = Membership.objects.filter(
        user=request.user, tenant_id=media_file.tenant_id, tenant__active=True
    ).exists()
    if not member:
        return HttpResponseForbidden()
    response = FileResponse(media_file.file.open("rb"), content_type=media_file.content_type)
    # Private: never kept by a shared cache, never sniffed into something else.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
