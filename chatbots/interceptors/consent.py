"""Opt-out and opt-in keywords: the first interceptor of every customer message.

It runs before human handoff, global commands and the current step; the ledger and the
tenant's keywords are compliance.consent's. The rule, including the clash with flow steps:

1. A tapped button or list row (`reply_id` set) belongs to the step, never to opt-out: the
   order confirmation's "Cancelar" button (id "pedido:cancelar") cancels the order. Only
   our own template buttons with payload "compliance:sair" / "compliance:voltar" act here.
2. Typed text that is exactly an opt-in keyword (default VOLTAR; accents, case and
   surrounding punctuation ignored) opts back in, when the customer had opted out.
   Otherwise it is ordinary text for the step ("voltar" goes back in the order flow).
3. Typed text that is exactly an opt-out keyword (default SAIR, PARAR, STOP, REMOVER,
   CANCELAR) opts out of proactive messages and confirms how to come back. Except for an
   ambiguous keyword ("cancelar"), which first means what a customer would mean by it:
   a. while a person attends the conversation (handoff), the text goes to the person;
   b. at a step that handles its own cancel (`Handler.owns_cancel`, e.g. the appointment
      steps), the text goes to that step;
   c. a flow with something to cancel cancels it (chatbots.handlers.cancel: an order in
      progress is cancelled exactly like the step's Cancelar button, cart emptied and
      conversation ended), and the reply adds "to stop our messages, send SAIR".
   Anywhere else "cancelar" opts out like SAIR. Tenants who use "Cancelar" in their own
   menus can drop it from their keywords (ConsentSettings).
4. Typed text that asks to opt out in so many words ("quero sair da lista", "não quero mais
   receber mensagens", "me tira dessa lista"; the phrases of chatbots.ai.intent, specific
   enough that an order note never is one) opts out like SAIR, at any step.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from chatbots.ai import intent
from chatbots.handlers import cancel
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.models import Conversation
from chatbots.wire import Text
from compliance import consent
from compliance.models import ConsentEvent

AMBIGUOUS_KEYWORDS = frozenset({"cancelar", "cancela"})
OPTOUT_REPLY_IDS = frozenset({"compliance:sair"})
OPTIN_REPLY_IDS = frozenset({"compliance:voltar"})
MAX_KEYWORD_CHARS = 40  # longer text is a sentence, never a keyword: no settings query
MAX_PHRASE_CHARS = 200  # longer text is about something else, whatever phrase it holds


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


class OptOutKeywords(Interceptor):
    """SAIR/PARAR/... opt out of proactive messages, VOLTAR opts back in (rules above)."""

    def intercept(self, ctx: Context) -> Reply | None:
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
        if not key:
            return None
        if len(key) > MAX_KEYWORD_CHARS:
            if len(key) <= MAX_PHRASE_CHARS and intent.classify_local(ctx.text).rule == "optout":
                return _opt_out(ctx, consent.consent_settings(tenant=ctx.chatbot.tenant), "frase")
            return None
        cfg = consent.consent_settings(tenant=ctx.chatbot.tenant)
        if key in {consent.keyword_key(k) for k in consent.optin_keywords(cfg)}:
            if ctx.cliente.optout_em is None:
                return None  # rule 2: not opted out, so "voltar" is for the step
            return _opt_in(ctx, cfg, key.upper())
        if key not in {consent.keyword_key(k) for k in consent.optout_keywords(cfg)}:
            if intent.classify_local(ctx.text).rule == "optout":  # rule 4
                return _opt_out(ctx, cfg, "frase")
            return None
        if key in AMBIGUOUS_KEYWORDS:
            if ctx.conversation.status in (Conversation.Status.HUMAN, Conversation.Status.WAITING):
                return None  # rule 3a
            if cancel.step_owns_cancel(ctx):
                return None  # rule 3b: where the customer is wins over an older open cart
            reply = cancel.cancel_reply(ctx)
            if reply is not None:
                return _with_hint(reply, cfg)  # rule 3c
        return _opt_out(ctx, cfg, key.upper())
