"""Opt-out and opt-in keywords: the first interceptor of every customer message.

chatbots.interceptors.optout_keywords delegates here (it runs before human handoff, global
commands and the current step). The rule, including the clash with flow steps:

1. A tapped button or list row (`reply_id` set) belongs to the step, never to opt-out: the
   order confirmation's "Cancelar" button (id "pedido:cancelar") cancels the order. Only
   our own template buttons with payload "compliance:sair" / "compliance:voltar" act here.
2. Typed text that is exactly an opt-in keyword (default VOLTAR; accents, case and
   surrounding punctuation ignored) opts back in, when the customer had opted out.
   Otherwise it is ordinary text for the step ("voltar" goes back in the order flow).
3. Typed text that is exactly an opt-out keyword (default SAIR, PARAR, STOP, REMOVER,
   CANCELAR) opts out of proactive messages and confirms how to come back. Except for an
   ambiguous keyword ("cancelar"), which first means what a customer would mean by it:
   a. an order in progress (the conversation is at an order step, or the customer has an
      open cart with items) is cancelled, exactly like the step's Cancelar button (cart
      emptied, conversation ended), and the reply adds "to stop our messages, send SAIR";
   b. at a step of a flow that handles its own cancel (STEP_OWNED_CANCEL_PREFIXES, e.g.
      appointments), the text goes to that step;
   c. while a person attends the conversation (handoff), the text goes to the person.
   Anywhere else "cancelar" opts out like SAIR. Tenants who use "Cancelar" in their own
   menus can drop it from their keywords (ConsentSettings).

Other flows add their own meaning of "cancelar" by appending to CANCEL_RESOLVERS.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from chatbots.handlers.base import Context, Reply
from chatbots.models import Conversation
from chatbots.wire import Text
from compliance import consent
from compliance.models import ConsentEvent

AMBIGUOUS_KEYWORDS = frozenset({"cancelar", "cancela"})
OPTOUT_REPLY_IDS = frozenset({"compliance:sair"})
OPTIN_REPLY_IDS = frozenset({"compliance:voltar"})
ORDER_STEP_PREFIX = "chatbots.handlers.pedidos."
STEP_OWNED_CANCEL_PREFIXES: list[str] = ["chatbots.handlers.agenda."]
MAX_KEYWORD_CHARS = 40  # longer text is a sentence, never a keyword: no settings query


def cancel_open_order(ctx: Context) -> Reply | None:
    """Typed "cancelar" during an order: the same as the order step's Cancelar button."""
    from pedidos import selectors, services

    at_order_step = ctx.step is not None and ctx.step.handler_path.startswith(ORDER_STEP_PREFIX)
    cart = selectors.carrinho_get_open(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )
    has_items = cart is not None and cart.itens.exists()
    if not (at_order_step or has_items):
        return None
    if has_items:
        services.carrinho_empty(pedido=cart)
    return Reply(
        messages=[
            Text(body=_("Pedido cancelado e carrinho esvaziado. Quando quiser, é só mandar um oi."))
        ],
        end=True,
    )


CANCEL_RESOLVERS: list[Callable[[Context], Reply | None]] = [cancel_open_order]


def _display(keywords: list[str], *, avoid=frozenset()) -> str:
    for keyword in keywords:
        if consent.keyword_key(keyword) not in avoid:
            return keyword.upper()
    return keywords[0].upper() if keywords else ""


def _opt_out(ctx: Context, cfg, detail: str) -> Reply:
    back = _display(consent.optin_keywords(cfg))
    changed = consent.consent_opt_out(
        cliente=ctx.cliente, source=ConsentEvent.Source.KEYWORD, detail=detail
    )
    if changed:
        body = cfg.optout_reply or _(
            "Pronto! Você não vai mais receber mensagens de novidades, ofertas e lembretes "
            "opcionais de %(empresa)s. Se mudar de ideia, é só enviar %(voltar)s."
        )
    else:
        body = _("Você já está fora da nossa lista de mensagens. Para voltar, envie %(voltar)s.")
    return Reply(messages=[Text(body=body % {"empresa": ctx.chatbot.tenant.name, "voltar": back})])


def _opt_in(ctx: Context, cfg, detail: str) -> Reply:
    leave = _display(consent.optout_keywords(cfg), avoid=AMBIGUOUS_KEYWORDS)
    consent.consent_opt_in(cliente=ctx.cliente, source=ConsentEvent.Source.KEYWORD, detail=detail)
    body = cfg.optin_reply or _(
        "Que bom ter você de volta! Você voltará a receber nossas mensagens. Para sair "
        "quando quiser, envie %(sair)s."
    )
    return Reply(messages=[Text(body=body % {"sair": leave})])


def _with_hint(reply: Reply, cfg) -> Reply:
    leave = _display(consent.optout_keywords(cfg), avoid=AMBIGUOUS_KEYWORDS)
    if leave:
        reply.messages = [
            *reply.messages,
            Text(
                body=_("Para não receber mais mensagens nossas, envie %(sair)s.") % {"sair": leave}
            ),
        ]
    return reply


def optout_keywords(ctx: Context) -> Reply | None:
    message = ctx.message
    if message is None:
        return None
    if message.reply_id:
        if message.reply_id in OPTOUT_REPLY_IDS:
            return _opt_out(ctx, consent.consent_settings(tenant=ctx.chatbot.tenant), "botão")
        if message.reply_id in OPTIN_REPLY_IDS:
            return _opt_in(ctx, consent.consent_settings(tenant=ctx.chatbot.tenant), "botão")
        return None  # rule 1: a tap belongs to the step
    if message.type != "text":
        return None
    key = consent.keyword_key(ctx.text)
    if not key or len(key) > MAX_KEYWORD_CHARS:
        return None
    cfg = consent.consent_settings(tenant=ctx.chatbot.tenant)
    if key in {consent.keyword_key(k) for k in consent.optin_keywords(cfg)}:
        if ctx.cliente.optout_em is None:
            return None  # rule 2: not opted out, so "voltar" is for the step
        return _opt_in(ctx, cfg, key.upper())
    if key not in {consent.keyword_key(k) for k in consent.optout_keywords(cfg)}:
        return None
    if key in AMBIGUOUS_KEYWORDS:
        if ctx.conversation.status in (Conversation.Status.HUMAN, Conversation.Status.WAITING):
            return None  # rule 3c
        if ctx.step is not None and ctx.step.handler_path.startswith(
            tuple(STEP_OWNED_CANCEL_PREFIXES)
        ):
            return None  # rule 3b: where the customer is wins over an older open cart
        for resolve in CANCEL_RESOLVERS:
            reply = resolve(ctx)
            if reply is not None:
                return _with_hint(reply, cfg)  # rule 3a
    return _opt_out(ctx, cfg, key.upper())
