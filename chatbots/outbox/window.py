"""What WhatsApp accepts when: the 24-hour customer-service window and approved templates.

Meta's customer-service window: for 24 hours after the customer's last message a business
may send anything; outside it only templates Meta approved (Meta:
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows;
error 131047 otherwise). Each bot keeps the templates it may send in MessageTemplate, with
a `purpose` naming what a domain app uses it for ("order_update", "reminder", ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from chatbots import message_templates
from chatbots.models import Chatbot, Conversation, MessageTemplate
from chatbots.providers.registry import UnknownProvider, get_provider
from chatbots.wire import Template
from clientes.models import Cliente

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


def customer_language(*, chatbot: Chatbot, cliente: Cliente | None) -> str:
    """The language of the templates `cliente` gets: their own (Cliente.idioma), else the
    bot's."""
    return (cliente.idioma if cliente is not None else "") or chatbot.language


def _approved(chatbot: Chatbot, purpose: str):
    return MessageTemplate.objects.filter(chatbot=chatbot, purpose=purpose, approved=True)


def approved_template(
    *, chatbot: Chatbot, purpose: str, cliente: Cliente | None = None, language: str = ""
) -> MessageTemplate | None:
    """The bot's approved template registered for `purpose` (the oldest, if several).

    With a customer (or a `language`), only one in that language: the exact code first
    ("pt_BR"), then the same language of another region ("pt"). Without either, the bot's
    language is preferred and any language will do.
    """
    templates = list(_approved(chatbot, purpose).order_by("pk"))
    wanted = language or (customer_language(chatbot=chatbot, cliente=cliente) if cliente else "")
    if wanted:
        return _in_language(templates, wanted)
    return _in_language(templates, chatbot.language) or (templates[0] if templates else None)


def _in_language(templates: list[MessageTemplate], code: str) -> MessageTemplate | None:
    exact = [t for t in templates if t.language == code]
    if exact:
        return exact[0]
    base = code.split("_")[0]
    return next((t for t in templates if t.language.split("_")[0] == base), None)


def template_for(
    *,
    chatbot: Chatbot,
    purpose: str,
    params: Sequence[str] | Mapping[str, str] | Callable[[], Sequence[str] | Mapping[str, str]],
    cliente: Cliente | None = None,
) -> Template | None:
    """The bot's approved template for `purpose` (in `cliente`'s language, when given),
    filled with as many of `params` (in order, or by name) as it declares; None when the
    bot has none. `params` may be a function returning them, called only when there is a
    template (when filling them costs queries)."""
    registered = approved_template(chatbot=chatbot, purpose=purpose, cliente=cliente)
    if registered is None:
        return None
    if callable(params):
        params = params()
    if isinstance(params, Mapping):
        return Template(
            name=registered.name,
            language=registered.language,
            named={str(k): str(v) for k, v in params.items()},
        )
    # Meta refuses a send whose parameter count differs from the approved template's.
    expected = len(message_templates.body_params(registered))
    return Template(
        name=registered.name, language=registered.language, params=list(params[:expected])
    )


def no_template_reason(*, chatbot: Chatbot, purpose: str, language: str) -> str:
    """Why the bot has no approved template for `purpose` in `language` (pt-BR), for the
    failed row that records a message not sent."""
    others = list(
        MessageTemplate.objects.filter(chatbot=chatbot, purpose=purpose).order_by("pk")[:5]
    )
    if not others:
        return _("Nenhum modelo de mensagem cadastrado com o uso “%(purpose)s”.") % {
            "purpose": purpose
        }
    states = "; ".join(
        f"{t.name} ({t.language}): "
        + (str(_("aprovado")) if t.approved else str(t.get_status_display()))
        + (f" – {t.status_reason}" if t.status_reason and not t.approved else "")
        for t in others
    )
    return _(
        "Nenhum modelo aprovado com o uso “%(purpose)s” no idioma %(language)s. Modelos com "
        "esse uso: %(states)s."
    ) % {"purpose": purpose, "language": language, "states": states}


class Approved:
    """A bot's approved templates by (name, language), each read once: what a batch of
    sends (send_to_customers, a sender's round) resolves its rows against, instead of a
    query per row. Live for one batch only, so a template approved or paused since is seen
    by the next one."""

    def __init__(self, chatbot: Chatbot) -> None:
        self.chatbot = chatbot
        self._rows: dict[tuple[str, str], MessageTemplate | None] = {}

    def get(self, name: str, language: str) -> MessageTemplate | None:
        key = (name, language)
        if key not in self._rows:
            self._rows[key] = MessageTemplate.objects.filter(
                chatbot=self.chatbot, name=name, language=language, approved=True
            ).first()
        return self._rows[key]


# Where approved_remember puts a batch's Approved on its bot instances: template_resolve
# uses it when no `approved` is passed.
APPROVED_ATTR = "_approved_templates"


def approved_remember(chatbots: Iterable[Chatbot]) -> None:
    """Have the bot instances of one batch (a sender's round, loaded for it and dropped
    after it) share one Approved per bot, so its rows' templates are read once per bot and
    template instead of once per row."""
    shared: dict[int, Approved] = {}
    for chatbot in chatbots:
        setattr(chatbot, APPROVED_ATTR, shared.setdefault(chatbot.pk, Approved(chatbot)))


def template_resolve(
    *, chatbot: Chatbot, template: Template, approved: Approved | None = None
) -> tuple[Template | None, tuple[str, str] | None]:
    """`template` ready to send (its components and rendered text filled from the stored
    definition), or why it cannot be sent (code, pt-BR detail).

    Sending an unapproved or misfilled template only earns a 132xxx error from Meta, so
    it is checked against the bot's registry first, and a missing parameter never
    reaches Meta. `approved`: the batch's registry (Approved), else one read now."""
    approved = approved or getattr(chatbot, APPROVED_ATTR, None) or Approved(chatbot)
    registered = approved.get(template.name, template.language)
    if registered is None:
        return None, (
            TEMPLATE_NOT_APPROVED,
            _(
                "O modelo “%(name)s” (%(lang)s) não está cadastrado como aprovado para este "
                "chatbot. Cadastre-o em Modelos de mensagem depois que a Meta aprovar."
            )
            % {"name": template.name, "lang": template.language},
        )
    expected = len(message_templates.body_params(registered))
    if (
        not template.named
        and len(template.params) > expected
        or (not registered.body_text and len(template.params) != expected)
    ):
        return None, (
            TEMPLATE_PARAMS,
            _("O modelo “%(name)s” espera %(expected)d parâmetro(s), mas recebeu %(got)d.")
            % {"name": template.name, "expected": expected, "got": len(template.params)},
        )
    if not registered.body_text and registered.category != MessageTemplate.Category.AUTHENTICATION:
        return template, None  # typed by hand: only its body parameters are known
    try:
        filled = message_templates.fill(
            registered,
            params=template.named or template.params,
            header=template.header,
            buttons=template.buttons,
        )
    except message_templates.TemplateParamError as exc:
        return None, (TEMPLATE_PARAMS, str(exc))
    return replace(template, components=filled.components, rendered=filled.text), None


def template_problem(
    *, chatbot: Chatbot, template: Template, approved: Approved | None = None
) -> tuple[str, str] | None:
    """Why `template` cannot be sent by `chatbot` (code, pt-BR detail), or None if it can."""
    return template_resolve(chatbot=chatbot, template=template, approved=approved)[1]


def localized(
    *, chatbot: Chatbot, template: Template, cliente: Cliente, approved: Approved | None = None
) -> Template:
    """`template` in the customer's language when the bot has the same template approved
    in it (Meta keeps one template per name and language)."""
    wanted = customer_language(chatbot=chatbot, cliente=cliente)
    if template.language == wanted:
        return template
    if approved is not None:
        exists = approved.get(template.name, wanted) is not None
    else:
        exists = MessageTemplate.objects.filter(
            chatbot=chatbot, name=template.name, language=wanted, approved=True
        ).exists()
    return replace(template, language=wanted) if exists else template


def template_slots(template: MessageTemplate) -> tuple[str, list[str]]:
    """What a send of `template` must fill, for screens that ask for its values: the
    header text's parameter name ("" when it has none) and the body's, in order. A send
    with another count is refused (template_resolve; Meta answers 132000 otherwise:
    https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)."""
    return message_templates.header_param(template), message_templates.body_params(template)


def template_text(template: MessageTemplate, *, params: Sequence[str], header: str = "") -> str:
    """The text the customer will read from `template` with the body's `params` in order."""
    values = dict(zip(message_templates.body_params(template), params, strict=False))
    return message_templates.render(template, values, header)
