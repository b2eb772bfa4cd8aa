"""A bot's WhatsApp connection in the browser: for Evolution API, the instance's QR code
(created when missing) refreshed until the phone has read it, then "conectado"; for Meta,
the webhook URL and verify token to paste in the app's dashboard, and the number's quality
and tier when Meta has reported them (chatbots.account_events).

The QR code expires about every 40 seconds on WhatsApp Web, so the page re-reads it while
the instance is not open (Evolution API docs, "Instance Connect":
https://doc.evolution-api.com/v2/api-reference/instance-controller/instance-connect).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from chatbots import bots
from chatbots.connection import chatbot_check_connection
from chatbots.management.commands.evolution_connect import webhook_target
from chatbots.models import Chatbot
from chatbots.providers import evolution_instance
from chatbots.providers.base import ProviderError
from staff.access import staff_required
from staff.bot_forms import PROVIDERS, ConnectionForm
from staff.health import health_annotate
from staff.studio import EDITORS, editor_required

REFRESH_SECONDS = 3
PROVIDER_NAMES = {
    "meta": "Meta Cloud API",
    "evolution": "Evolution API",
    "whaticket": "Whaticket",
    "stub": _lazy("Simulador (sem envio)"),
}


def _evolution_status(bot: Chatbot) -> dict:
    try:
        state = evolution_instance.instance_state(chatbot=bot)
        if state is None:
            evolution_instance.instance_create(chatbot=bot)
            state = "close"
        if state == "open":
            return {"connected": True}
        answer = evolution_instance.instance_connect(chatbot=bot)
    except ProviderError as exc:
        return {
            "error": _(
                "Não foi possível falar com a Evolution API (%(code)s). Confira o endereço e a "
                "chave da API do robô."
            )
            % {"code": exc.code}
        }
    qr = str(answer.get("base64") or "")
    return {
        "connected": False,
        "qr": qr if qr.startswith("data:image/png;base64,") else "",
        "pairing_code": answer.get("pairingCode") or "",
    }


def _evolution_prepare(bot: Chatbot) -> str:
    """After the owner saves Evolution settings: the instance exists and sends its messages
    here (the same set-up as `manage.py evolution_connect`). An error to show, or ""."""
    try:
        if evolution_instance.instance_state(chatbot=bot) is None:
            evolution_instance.instance_create(chatbot=bot)
        url, headers, _generated = webhook_target(bot)
        evolution_instance.webhook_set(chatbot=bot, url=url, headers=headers)
    except ProviderError as exc:
        return _(
            "Não foi possível falar com a Evolution API (%(code)s). Confira o endereço e a "
            "chave da API do robô."
        ) % {"code": exc.code}
    return ""


def _bot(request, pk: int) -> Chatbot:
    return get_object_or_404(Chatbot, pk=pk, tenant_id=request.membership.tenant_id)


def _context(request, pk: int) -> dict:
    bot = _bot(request, pk)
    health_annotate([bot])
    context = {
        "bot": bot,
        "provider_name": PROVIDER_NAMES.get(bot.provider, bot.provider),
        "refresh": REFRESH_SECONDS,
        "section": "bots",
    }
    if bot.provider == "evolution":
        context.update(_evolution_status(bot))
    elif bot.provider == "meta":
        context["webhook_url"] = request.build_absolute_uri(reverse("chatbots-webhook-meta"))
    elif bot.provider == "whaticket":
        context["webhook_url"] = request.build_absolute_uri(
            reverse("chatbots-webhook-whaticket-bot", kwargs={"bot_id": bot.pk})
        )
    return context


@staff_required
def connection(request, pk: int):
    """The connection's state and, for owners and admins, the form of a provider's settings
    (`?provedor=`; the bot's own provider by default)."""
    bot = _bot(request, pk)
    can_edit = request.membership.role in EDITORS
    provider = request.POST.get("provider") or request.GET.get("provedor") or bot.provider
    if provider not in ConnectionForm.FIELDS:
        provider = bot.provider if bot.provider in ConnectionForm.FIELDS else "stub"
    form = None
    if can_edit:
        form = ConnectionForm(
            request.POST if request.method == "POST" else None, chatbot=bot, provider=provider
        )
    elif request.method == "POST":
        raise PermissionDenied(_("Só o proprietário ou um administrador muda a conexão."))
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                bots.chatbot_update(chatbot=bot, **form.changes())
        except ValidationError as exc:
            form.place_errors(exc)
        else:
            error = _evolution_prepare(bot) if provider == "evolution" else ""
            if error:
                messages.error(request, error)
            else:
                messages.success(request, _("Conexão salva."))
            return redirect("staff:connection", pk=bot.pk)
    context = {
        **_context(request, pk),
        "form": form,
        "provider": provider,
        "providers": PROVIDERS,
        "can_edit": can_edit,
    }
    return render(request, "staff/studio/connection.html", context)


@require_POST
@editor_required
def connection_test(request, pk: int):
    """The provider's cheapest authenticated call (chatbots.connection), said in pt-BR."""
    ok, detail = chatbot_check_connection(chatbot=_bot(request, pk))
    (messages.success if ok else messages.error)(request, detail)
    return redirect("staff:connection", pk=pk)


@staff_required
def connection_status(request, pk: int):
    return render(request, "staff/studio/_connection.html", _context(request, pk))
