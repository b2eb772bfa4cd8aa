"""Opening a stored file: only through a signed, short-lived link, only for staff of the
file's tenant. A forged or expired link is a 404; a signed-in user of another tenant, 403."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.models import Membership
from chatbots.models import Conversation
from inbox import selectors as inbox_selectors
from inbox import services as inbox_services
from media import outbound
from media.services import media_from_link
from staff.access import staff_required


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


@require_POST
@staff_required
def staff_attach(request: HttpRequest, pk: int):
    """The inbox's "attach a file" (staff app): the file goes to the customer by Meta id."""
    conversation = get_object_or_404(
        Conversation.objects.select_related("chatbot", "cliente"),
        pk=pk,
        tenant_id=request.membership.tenant_id,
    )
    if not inbox_selectors.membership_can_see(request.membership, conversation):
        raise Http404
    upload = request.FILES.get("arquivo")
    if upload is None:
        messages.error(request, _("Escolha um arquivo."))
    else:
        try:
            outbound.staff_send_file(
                conversation,
                request.user,
                content=upload.read(),
                filename=upload.name or "arquivo",
                caption=request.POST.get("legenda", "").strip(),
            )
        except inbox_services.InboxError as error:
            messages.error(request, error.detail or _("Não foi possível enviar o arquivo."))
    return redirect("staff:conversation", pk=pk)
