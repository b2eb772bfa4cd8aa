"""A bot's WhatsApp connection in the browser: for Evolution API, the instance's QR code
(created when missing) refreshed until the phone has read it, then "conectado"; for Meta,
the webhook URL and verify token to paste in the app's dashboard, and the number's quality
and tier when Meta has reported them (chatbots.account_events).

The QR code expires about every 40 seconds on WhatsApp Web, so the page re-reads it while
the instance is not open (Evolution API docs, "Instance Connect":
https://doc.evolution-api.com/v2/api-reference/instance-controller/instance-connect).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from chatbots.models import Chatbot
from chatbots.providers import evolution_instance
from chatbots.providers.base import ProviderError
from staff.access import staff_required

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


def _context(request, pk: int) -> dict:
    bot = get_object_or_404(Chatbot, pk=pk, tenant_id=request.membership.tenant_id)
    context = {
        "bot": bot,
        "provider_name": PROVIDER_NAMES.get(bot.provider, bot.provider),
        "refresh": REFRESH_SECONDS,
        "section": "bots",
    }
    if bot.provider == "evolution":
        context.update(_evolution_status(bot))
    elif bot.provider == "meta":
        context["webhook_url"] = request.build_absolute_uri("/api/chatbots/webhook/")
    return context


@staff_required
def connection(request, pk: int):
    return render(request, "staff/studio/connection.html", _context(request, pk))


@staff_required
def connection_status(request, pk: int):
    return render(request, "staff/studio/_connection.html", _context(request, pk))
