"""adicionar_mais and confirmar_pedido: the cart with three buttons, and cancelling it.

"Finalizar" checks the minimum order and moves to the checkout (route.py); the confirmation
shows everything (items, fee, total, name, delivery, payment, notes), takes "Confirmar",
"Adicionar mais", "Cancelar" or a typed change ("mudar o pagamento"), and confirms through
pedidos.checkout.pedido_confirm_checkout (open hours, minimum, fee), answering with the
order number and, for Pix, the copy-and-paste code and its QR code.

In a bot whose flow has no checkout steps, confirmar_pedido runs them inside itself: the
step reached is state[K_EMBEDDED], entered and answered here (`_carry`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import cancel, schemas
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.pedidos import aside
from chatbots.handlers.pedidos.aside import cancel_cart
from chatbots.handlers.pedidos.base import (
    ADD,
    ADICIONAR,
    CANCEL,
    CATEGORIA,
    CONFIRM,
    CONFIRMAR,
    ENDERECO,
    FINISH,
    K_CATEGORY_PAGE,
    K_EMBEDDED,
    K_NOTES_ASKED,
    K_SEARCH,
    MODO,
    NOME,
    OBSERVACOES,
    PAGAMENTO,
    OrderStep,
    configuracao,
    has_items,
    is_order_step,
    open_cart,
    summary,
    text,
)
from chatbots.handlers.pedidos.catalog import offer_products, search_products
from chatbots.handlers.pedidos.checkout_steps import (
    FormaPagamentoHandler,
    InformarEnderecoHandler,
    InformarNomeHandler,
    ModoEntregaHandler,
    ObservacoesHandler,
)
from chatbots.handlers.pedidos.route import checkout_next
from chatbots.handlers.registry import register
from chatbots.text import normalize
from clientes.services import cliente_update
from pedidos import checkout, pix, selectors
from pedidos.errors import AbaixoDoMinimo, BairroNaoAtendido, LojaFechada
from pedidos.money import format_brl

EMBEDDABLE: dict[str, type[Handler]] = {
    NOME: InformarNomeHandler,
    MODO: ModoEntregaHandler,
    ENDERECO: InformarEnderecoHandler,
    PAGAMENTO: FormaPagamentoHandler,
    OBSERVACOES: ObservacoesHandler,
}
MAX_HOPS = 10  # the engine's bound on steps entered in one turn

# A change typed at the confirmation: what it clears, so the checkout asks it again.
_CHANGES = (
    (re.compile(r"\b(?:entrega|retirada|retirar|endereco|bairro)\b"), "delivery"),
    (re.compile(r"\b(?:pagamento|pagar|pix|cartao|dinheiro|troco)\b"), "payment"),
    (re.compile(r"\bobs\w*|\bobservac\w*"), "notes"),
    (re.compile(r"\bnome\b"), "name"),
)
_CHANGE_VERB = re.compile(r"\b(?:mudar|muda|alterar|altera|trocar|troca|corrigir|outro|outra)\b")


class _CartQuestion(OrderStep):
    """Shows the cart and asks with three buttons; "Adicionar mais" and "Cancelar" do the
    same at both steps, `answer` handles the step's own choices (None: not understood)."""

    CODE: ClassVar[str]

    def body(self, ctx: Context, pedido) -> str:
        raise NotImplementedError

    def enter(self, ctx: Context) -> Reply:
        pedido = open_cart(ctx)
        if not has_items(pedido):
            return Reply(state={K_EMBEDDED: None}, next_step=CATEGORIA)
        return Reply(messages=[self.ask(self.body(ctx, pedido))])

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, self.CODE)
        if side is not None:
            return side
        choice = self.pressed(ctx)
        if choice == ADD:
            return Reply(
                state={K_CATEGORY_PAGE: 0, K_SEARCH: None, K_EMBEDDED: None}, next_step=CATEGORIA
            )
        if choice == CANCEL:
            return cancel_cart(ctx)
        return self.answer(ctx, choice)

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        raise NotImplementedError


@register
class AdicionarMaisHandler(_CartQuestion):
    label = gettext_lazy("Pedidos: adicionar mais itens?")
    config_help = gettext_lazy("Sem configuração.")
    config_schema = schemas.NONE

    CODE = ADICIONAR
    OPTIONS = [
        (ADD, gettext_lazy("Adicionar mais")),
        (FINISH, gettext_lazy("Finalizar")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": ADD, "mais": ADD, "nao": FINISH, "fechar": FINISH, "finalizar pedido": FINISH}

    def body(self, ctx: Context, pedido) -> str:
        return _("🛒 Seu carrinho:\n%(resumo)s\n\nQuer adicionar mais alguma coisa?") % {
            "resumo": selectors.pedido_summarize(pedido=pedido)
        }

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        if choice == FINISH:
            pedido = open_cart(ctx)
            try:
                checkout.minimum_check(pedido=pedido, configuracao=configuracao(ctx))
            except AbaixoDoMinimo as exc:
                return Reply(messages=[text(exc.messages[0])], next_step=ADICIONAR)
            return checkout_next(ctx)
        # "quero uma coca também": a product typed here goes straight to its quantity.
        offer = offer_products(ctx, search_products(ctx))
        if offer is not None:
            return offer
        return aside.after(ctx) or Reply(
            messages=[text(_("Toque em um dos botões: Adicionar mais, Finalizar ou Cancelar."))],
            next_step=ADICIONAR,
            not_understood=True,
        )


@register
class ConfirmarPedidoHandler(_CartQuestion):
    label = gettext_lazy("Pedidos: confirmar pedido")
    config_help = gettext_lazy('Opcional: {"text": "Obrigado! Seu pedido já vai para a cozinha."}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)

    CODE = CONFIRMAR
    OPTIONS = [
        (CONFIRM, gettext_lazy("Confirmar")),
        (ADD, gettext_lazy("Adicionar mais")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": CONFIRM, "ok": CONFIRM, "confirmo": CONFIRM, "nao": CANCEL}

    def body(self, ctx: Context, pedido) -> str:
        body = _("Confira seu pedido:\n%(resumo)s") % {"resumo": summary(pedido, configuracao(ctx))}
        if pedido.modo_entrega or pedido.forma_pagamento:
            body += "\n\n" + _("Para mudar algo, digite o que quer mudar (ex.: mudar o pagamento).")
        return body + "\n\n" + _("Posso confirmar?")

    # --- The checkout run inside this step (a flow without the checkout steps) -----------

    def enter(self, ctx: Context) -> Reply:
        at = ctx.state.get(K_EMBEDDED)
        if at in EMBEDDABLE:
            return self._carry(ctx, EMBEDDABLE[at]().enter(replace(ctx, step=None)), at)
        return super().enter(ctx)

    def handle(self, ctx: Context) -> Reply:
        at = ctx.state.get(K_EMBEDDED)
        if at in EMBEDDABLE:
            return self._carry(ctx, EMBEDDABLE[at]().handle(replace(ctx, step=None)), at)
        return super().handle(ctx)

    def _carry(self, ctx: Context, reply: Reply, at: str) -> Reply:
        """Carry an embedded checkout step's `reply` on the way the engine would: enter
        the next checkout step, or show the confirmation when none is left."""
        messages, state = list(reply.messages), dict(reply.state)
        for _hop in range(MAX_HOPS):
            if reply.end or reply.handoff:
                return Reply(messages=messages, state=state, end=reply.end, handoff=reply.handoff)
            merged = {**ctx.state, **state}
            if reply.next_step is None:  # the embedded step stays: its re-prompt
                return Reply(
                    messages=messages,
                    state={**state, K_EMBEDDED: at},
                    not_understood=reply.not_understood,
                )
            if reply.next_step == at or reply.next_step in EMBEDDABLE:
                target = reply.next_step
            elif reply.next_step == CONFIRMAR:
                target = merged.get(K_EMBEDDED)
            else:  # out of the checkout ("Começar de novo", the greeting)
                return Reply(
                    messages=messages, state={**state, K_EMBEDDED: None}, next_step=reply.next_step
                )
            if target not in EMBEDDABLE:  # nothing left to ask: the confirmation
                shown = super().enter(
                    replace(ctx, message=None, state={**merged, K_EMBEDDED: None})
                )
                return Reply(
                    messages=messages + shown.messages,
                    state={**state, **shown.state, K_EMBEDDED: None},
                    next_step=shown.next_step,
                )
            at = target
            sub = replace(ctx, step=None, message=None, state={**merged, K_EMBEDDED: at})
            reply = EMBEDDABLE[at]().enter(sub)
            messages += reply.messages
            state.update({K_EMBEDDED: at, **reply.state})
        raise RuntimeError("checkout steps loop inside confirmar_pedido")  # pragma: no cover

    # --- The confirmation ----------------------------------------------------------------

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        if choice != CONFIRM:
            change = self._change(ctx)
            if change is not None:
                return change
            return aside.after(ctx) or Reply(
                messages=[text(_("Toque em Confirmar, Adicionar mais ou Cancelar."))],
                next_step=CONFIRMAR,
                not_understood=True,
            )
        pedido = open_cart(ctx)
        if pedido is None:
            return Reply(next_step=CATEGORIA)
        pending = checkout_next(ctx)  # something still unanswered (e.g. rules changed)
        if pending.next_step != CONFIRMAR or pending.state.get(K_EMBEDDED):
            return pending
        cfg = configuracao(ctx)
        try:
            pedido = checkout.pedido_confirm_checkout(pedido=pedido, configuracao=cfg)
        except LojaFechada as exc:
            return Reply(messages=[text(exc.messages[0])])
        except BairroNaoAtendido as exc:  # the fee list changed since it was asked
            checkout.pedido_clear(pedido=pedido, parts=["delivery"])
            return checkout_next(ctx, messages=[text(exc.messages[0])])
        except ValidationError as exc:
            # Below the minimum, out of stock since it was added, or the cart emptied: say
            # why, keep the cart.
            return Reply(messages=[text(" ".join(exc.messages))], next_step=ADICIONAR)
        thanks = ctx.config.get("text") or _("Obrigado! Já estamos preparando. 🍕")
        body = _("✅ Pedido nº %(numero)s confirmado!\n%(resumo)s\n\n%(thanks)s") % {
            "numero": pedido.numero,
            "resumo": summary(pedido, cfg),
            "thanks": thanks,
        }
        return Reply(messages=[text(body), *self._pix(pedido, cfg)], end=True)

    def _pix(self, pedido, cfg) -> list[wa.Outbound]:
        """The Pix copy-and-paste code (its own message, to copy whole) and its QR code."""
        code = checkout.pix_code(pedido=pedido, configuracao=cfg)
        if not code:
            return []
        messages: list[wa.Outbound] = [
            text(
                _(
                    "Para pagar com Pix (%(total)s), copie o código abaixo e cole no app do seu "
                    "banco, em Pix › Copia e cola:"
                )
                % {"total": format_brl(pedido.total)}
            ),
            text(code),
        ]
        link = pix.image_url(pedido_id=pedido.pk)
        if link:
            caption = _("QR Code Pix do pedido nº %(numero)s") % {"numero": pedido.numero}
            messages.append(wa.Media(media_type="image", link=link, caption=caption))
        return messages

    def _change(self, ctx: Context) -> Reply | None:
        """ "mudar o pagamento", "outro endereço": clear that part and ask it again."""
        typed = normalize(ctx.text)
        if not typed or ctx.reply_id:
            return None
        parts = [part for pattern, part in _CHANGES if pattern.search(typed)]
        if not parts or not (_CHANGE_VERB.search(typed) or len(typed.split()) <= 2):
            return None
        pedido = open_cart(ctx)
        if pedido is None:
            return None
        state = {}
        if "name" in parts:
            cliente_update(cliente=ctx.cliente, nome="")
        if "notes" in parts:
            state[K_NOTES_ASKED] = None
        checkout.pedido_clear(pedido=pedido, parts=[p for p in parts if p != "name"])
        return checkout_next(ctx, state=state)


# --- A typed "cancelar" (chatbots.handlers.cancel) -------------------------------------


@cancel.register
def cancel_open_order(ctx: Context) -> Reply | None:
    """Typed "cancelar" with items in the open cart: the same as the Cancelar button (cart
    emptied, conversation ended). At an order step with an empty cart: nothing to cancel,
    the menu is offered. Anywhere else with nothing in the cart: None (not this flow's)."""
    at_order_step = ctx.step is not None and is_order_step(ctx.step.handler_path)
    if not (at_order_step or has_items(open_cart(ctx))):
        return None
    return cancel_cart(ctx)
