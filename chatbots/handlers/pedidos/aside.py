"""What a customer says beside the step's question, at any order step.

Mid-order, customers greet again ("oi"), ask about the business ("qual o endereço?",
"vocês aceitam pix?") or ask for a person. Each order step asks `before(ctx, code)` first:

- a greeting with items in the cart offers to carry on or start over (buttons
  "Continuar pedido" / "Começar de novo" / "Falar com atendente"); with none, the flow
  starts again from its greeting;
- a tap on a cart's "Cancelar", even an old one: `cancel_cart`;
- "atendente", "falar com uma pessoa"... (chatbots.ai.intent's local rules) or a tap on
  "Falar com atendente" hands the conversation to a person; the cart stays as it is, and
  the conversation stays at its step for when the bot is back;
- a question about the address, the hours, the delivery fee, the minimum order or the
  payment methods is answered from the business's ConfiguracaoPedidos, then the step asks
  again; when that piece is not configured, it is never guessed: as `after` below.

and `after(ctx)` when its own answer did not fit: another question ("tem estacionamento?")
gets "I can't answer that here" with the person and continue buttons, marked
`not_understood` so the assistant answers instead where it is on. Never a dead end.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from chatbots import wire as wa
from chatbots.ai import intent
from chatbots.handlers import kit
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.pedidos.base import (
    CANCEL,
    CATEGORIA,
    CLEAN_STATE,
    CONTINUE,
    INICIO,
    PERSON,
    RESTART,
    configuracao,
    has_items,
    open_cart,
    person_button,
    text,
)
from chatbots.text import normalize
from pedidos import checkout, hours, selectors, services
from pedidos.models import FormaPagamento
from pedidos.money import format_brl

_QUESTION_START = re.compile(
    r"^(?:qual|quais|onde|aonde|que horas|quando|como|quanto|quantos|voces|vcs|tem|teria|"
    r"aceita|aceitam|abre|abrem|fecha|fecham|entrega|entregam|faz|fazem|pode|posso|e possivel|"
    r"ate que horas|qual e|sabe)\b"
)
_TOPICS = {
    "endereco": re.compile(
        r"\b(?:endereco|onde (?:fica|ficam|e|esta|estao)|localizacao|como (?:chego|chegar)|"
        r"fica onde|ponto de referencia da loja)\b"
    ),
    "horario": re.compile(
        r"\b(?:horarios?|que horas|abre|abrem|aberto|aberta|fecha|fecham|funciona|funcionam|"
        r"funcionamento|domingo|feriado)\b"
    ),
    "taxa": re.compile(
        r"\b(?:taxa|frete|entregam|entrega (?:em|no|na|pra|para|ate|aqui)|valor da entrega|"
        r"custa a entrega)\b"
    ),
    "minimo": re.compile(r"\b(?:minimo|minima)\b"),
    "pagamento": re.compile(
        r"\b(?:pix|cartao|cartoes|credito|debito|dinheiro|pagamento|pagar|vale refeicao|vr)\b"
    ),
}


def _typed(ctx: Context) -> str:
    """The typed text (never a tap, a location, a media caption), normalized."""
    if ctx.message is None or ctx.message.type != "text":
        return ""
    return normalize(ctx.text)


def looks_like_question(typed: str) -> bool:
    return typed.endswith("?") or bool(_QUESTION_START.match(typed.rstrip("?!. ")))


def before(ctx: Context, code: str) -> Reply | None:
    """A reply for what the customer said beside step `code`'s question, or None."""
    if ctx.reply_id == PERSON:
        return handoff(ctx)
    if ctx.reply_id == CONTINUE:
        return Reply(next_step=code)
    if ctx.reply_id == RESTART:
        return restart(ctx)
    if ctx.reply_id == CANCEL:  # also a stale Cancelar, tapped at another step
        return cancel_cart(ctx)
    typed = _typed(ctx)
    if not typed:
        return None
    guess = intent.classify_local(ctx.text)
    if guess.rule == "greeting":
        return greeting(ctx)
    if guess.intent == intent.Intent.HUMANO:
        return handoff(ctx)
    if looks_like_question(typed):
        topic = next((name for name, pattern in _TOPICS.items() if pattern.search(typed)), None)
        if topic is not None:
            answer = _known_answer(ctx, topic)
            if answer is None:  # about the business, but not configured: never guess
                return after(ctx)
            return Reply(messages=[answer], next_step=code)
    return None


def after(ctx: Context) -> Reply | None:
    """For text the step did not understand: a question gets the person offer, else None."""
    typed = _typed(ctx)
    if not typed or not looks_like_question(typed):
        return None
    return Reply(
        messages=[person_offer(_("Essa eu não sei responder por aqui."))], not_understood=True
    )


def person_offer(lead: str) -> wa.Buttons:
    return kit.buttons(
        lead + " " + _("Quer falar com uma pessoa da equipe? Seu pedido fica guardado."),
        [person_button(), (CONTINUE, _("Continuar pedido"))],
    )


def handoff(ctx: Context) -> Reply:
    body = _("Certo! Vou chamar uma pessoa da equipe. Aguarde um instante, por favor. 🙋")
    if has_items(open_cart(ctx)):
        body += "\n" + _("Seu carrinho fica guardado: quando quiser, é só continuar o pedido.")
    return Reply(messages=[text(body)], handoff=True)


def greeting(ctx: Context) -> Reply:
    if not has_items(open_cart(ctx)):
        return Reply(next_step=INICIO)
    return Reply(messages=[resume_offer(ctx, _("Olá de novo! 😊"))])


def resume_offer(ctx: Context, greeting: str) -> wa.Buttons:
    """The cart in progress, and the choice to carry on, start over or talk to a person."""
    body = _(
        "%(saudacao)s Você tem um pedido em andamento:\n%(resumo)s\n\n"
        "Quer continuar de onde parou ou começar de novo?"
    ) % {"saudacao": greeting, "resumo": selectors.pedido_summarize(pedido=open_cart(ctx))}
    return kit.buttons(
        body,
        [(CONTINUE, _("Continuar pedido")), (RESTART, _("Começar de novo")), person_button()],
    )


def restart(ctx: Context) -> Reply:
    pedido = open_cart(ctx)
    if pedido is not None:
        services.carrinho_empty(pedido=pedido)
    return Reply(
        messages=[text(_("Pronto, carrinho esvaziado. Vamos começar de novo!"))],
        state=dict(CLEAN_STATE),
        next_step=CATEGORIA,
    )


def cancel_cart(ctx: Context) -> Reply:
    """The Cancelar button, or a typed "cancelar": empty the cart and end; with nothing in
    it, say so and offer the menu instead (nothing is closed)."""
    pedido = open_cart(ctx)
    if not has_items(pedido):
        return Reply(
            messages=[
                text(
                    _("Você não tem nenhum pedido em andamento para cancelar. Veja nosso cardápio:")
                )
            ],
            state=dict(CLEAN_STATE),
            next_step=CATEGORIA,
        )
    services.carrinho_empty(pedido=pedido)
    return Reply(
        messages=[
            text(_("Pedido cancelado e carrinho esvaziado. Quando quiser, é só mandar um oi."))
        ],
        end=True,
    )


def _known_answer(ctx: Context, topic: str) -> wa.Outbound | None:
    """The answer to a question on one of _TOPICS from what the business configured, or
    None when it did not (an unsaved ConfiguracaoPedidos states nothing but the defaults of
    the flow, so only the payment methods the flow offers are said)."""
    cfg = configuracao(ctx)
    configured = cfg.pk is not None
    if topic == "endereco":
        if not cfg.endereco_loja:
            return None
        return text(_("📍 Nosso endereço: %(endereco)s") % {"endereco": cfg.endereco_loja})
    if topic == "horario":
        if not cfg.horarios:
            return None
        body = _("🕒 Nosso horário:\n%(horarios)s") % {"horarios": hours.describe(cfg.horarios)}
        closed = checkout.closed_reason(configuracao=cfg)
        body += "\n\n" + (closed.messages[0] if closed else _("Estamos abertos agora."))
        return text(body)
    if topic == "taxa":
        if not (configured or checkout.bairros_list(tenant=cfg.tenant)):
            return None
        return text(_fees_text(cfg))
    if topic == "minimo":
        if not configured:
            return None
        if not cfg.valor_minimo:
            return text(_("Não temos pedido mínimo."))
        return text(
            _("O pedido mínimo é de %(valor)s (sem a taxa de entrega).")
            % {"valor": format_brl(cfg.valor_minimo)}
        )
    labels = [str(FormaPagamento(f).label) for f in checkout.payments(cfg)]
    return text(_("Aceitamos: %(formas)s.") % {"formas": ", ".join(labels)})


def _fees_text(cfg) -> str:
    if not cfg.aceita_entrega:
        return _("No momento não fazemos entrega, só retirada no local.")
    bairros = checkout.bairros_list(tenant=cfg.tenant)
    if not bairros:
        fee = cfg.taxa_entrega_padrao
        if not fee:
            return _("A entrega é grátis. 🛵")
        return _("A taxa de entrega é de %(taxa)s.") % {"taxa": format_brl(fee)}
    lines = [f"• {t.bairro}: {format_brl(t.valor)}" for t in bairros[:30]]
    body = _("🛵 Taxas de entrega por bairro:\n%(lista)s") % {"lista": "\n".join(lines)}
    if cfg.taxa_entrega_padrao is not None:
        body += "\n" + _("Outros bairros: %(taxa)s") % {"taxa": format_brl(cfg.taxa_entrega_padrao)}
    return body
