"""What WhatsApp accepts when: the 24-hour customer-service window and approved templates.

Meta's customer-service window: for 24 hours after the customer's last message a business
may send anything; outside it only templates Meta approved (Meta:
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows;
error 131047 otherwise). Each bot keeps the templates it may send in MessageTemplate, with
a `purpose` naming what a domain app uses it for ("order_update", "reminder", ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots.models import Chatbot, Conversation, MessageTemplate
from chatbots.providers.registry import UnknownProvider, get_provider
from chatbots.wire import Template

CUSTOMER_WINDOW = timedelta(hours=24)

# Our own error codes (Meta's are numbers).
OUTSIDE_WINDOW = "outside_24h_window"
TEMPLATE_NOT_APPROVED = "template_not_approved"
TEMPLATE_PARAMS = "template_params_mismatch"


def window_open(conversation: Conversation, *, now: datetime | None = None) -> bool:
    """Whether the 24-hour customer-service window of `conversation` is open.

    Only providers that have the window (Provider.customer_window: Meta, and the stub that
    stands in for it) close it; for the others (Whaticket, Evolution) it is always open.
    """
    try:
        if not get_provider(conversation.chatbot.provider).customer_window:
            return True
    except UnknownProvider:
        pass  # the send fails with unknown_provider anyway; keep the stricter rule
    last = conversation.last_customer_message_at
    return last is not None and (now or timezone.now()) - last < CUSTOMER_WINDOW


def outside_window_detail(conversation: Conversation) -> str:
    if conversation.last_customer_message_at is None:
        return _(
            "O cliente nunca escreveu para este número: fora da janela de 24 horas da Meta, "
            "só um modelo de mensagem aprovado pode ser enviado."
        )
    return _(
        "Fora da janela de 24 horas: a última mensagem do cliente foi em %(when)s. A Meta só "
        "permite modelos de mensagem aprovados depois disso."
    ) % {
        "when": timezone.localtime(conversation.last_customer_message_at).strftime("%d/%m/%Y %H:%M")
    }


def approved_template(*, chatbot: Chatbot, purpose: str) -> MessageTemplate | None:
    """The bot's approved template registered for `purpose` (the oldest, if several)."""
    return (
        MessageTemplate.objects.filter(chatbot=chatbot, purpose=purpose, approved=True)
        .order_by("pk")
        .first()
    )


def template_for(
    *, chatbot: Chatbot, purpose: str, params: Sequence[str] | Callable[[], Sequence[str]]
) -> Template | None:
    """The bot's approved template for `purpose`, filled with as many of `params` (in order)
    as it declares; None when the bot has none. `params` may be a function returning them,
    called only when there is a template (when filling them costs queries)."""
    registered = approved_template(chatbot=chatbot, purpose=purpose)
    if registered is None:
        return None
    if callable(params):
        params = params()
    # Meta refuses a send whose parameter count differs from the approved template's.
    return Template(
        name=registered.name,
        language=registered.language,
        params=list(params[: registered.param_count]),
    )


def template_problem(*, chatbot: Chatbot, template: Template) -> tuple[str, str] | None:
    """Why `template` cannot be sent by `chatbot` (code, pt-BR detail), or None if it can.

    Sending an unapproved or misfilled template only earns a 132xxx error from Meta, so
    it is checked against the bot's registry first."""
    registered = MessageTemplate.objects.filter(
        chatbot=chatbot, name=template.name, language=template.language, approved=True
    ).first()
    if registered is None:
        return TEMPLATE_NOT_APPROVED, _(
            "O modelo “%(name)s” (%(lang)s) não está cadastrado como aprovado para este "
            "chatbot. Cadastre-o em Modelos de mensagem depois que a Meta aprovar."
        ) % {"name": template.name, "lang": template.language}
    if registered.param_count != len(template.params):
        return TEMPLATE_PARAMS, _(
            "O modelo “%(name)s” espera %(expected)d parâmetro(s), mas recebeu %(got)d."
        ) % {"name": template.name, "expected": registered.param_count, "got": len(template.params)}
    return None
