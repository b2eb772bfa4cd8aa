"""Which checkout step comes next, in a flow that has the checkout steps or in one that
has none.

After "Finalizar" (and after each checkout answer) `checkout_next` moves the conversation to
the first thing the order still needs (pedidos.checkout.missing: name, delivery or pickup,
address, payment), then the notes, once, then the confirmation:

- a bot whose flow has checkout steps (the starter flow since they exist) gets to the step
  of that code; a flow with some of them asks only those: the tenant chose;
- a bot whose flow has none of them (one installed before they existed: the six steps of
  DESIGN.md) stays at `confirmar_pedido`, which runs the checkout steps inside itself
  (cart.py, state K_EMBEDDED), so its orders arrive complete too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chatbots.handlers.base import Context, Reply
from chatbots.handlers.pedidos.base import (
    CATEGORIA,
    CHECKOUT_CLASSES,
    CONFIRMAR,
    ENDERECO,
    K_EMBEDDED,
    K_NOTES_ASKED,
    MODO,
    NOME,
    OBSERVACOES,
    PAGAMENTO,
    PUBLIC_MODULE,
    configuracao,
    has_items,
    open_cart,
)
from chatbots.models import Step
from pedidos import checkout

CODE_OF = {
    checkout.NOME: NOME,
    checkout.MODO: MODO,
    checkout.ENDERECO: ENDERECO,
    checkout.PAGAMENTO: PAGAMENTO,
}


def flow_checkout_steps(ctx: Context) -> set[str]:
    """The checkout step codes this bot's flow has, each with its own handler."""
    expected = {(code, f"{PUBLIC_MODULE}.{name}") for code, name in CHECKOUT_CLASSES.items()}
    present = Step.objects.filter(
        chatbot=ctx.chatbot, active=True, code__in=list(CHECKOUT_CLASSES)
    ).values_list("code", "handler_path")
    return {code for code, path in present if (code, path) in expected}


def todo(ctx: Context, state: dict[str, Any]) -> list[str]:
    """The checkout step codes still to visit, in order (any flow)."""
    pedido = open_cart(ctx)
    found = [
        CODE_OF[m]
        for m in checkout.missing(
            pedido=pedido, cliente=ctx.cliente, configuracao=configuracao(ctx)
        )
    ]
    if not state.get(K_NOTES_ASKED):
        found.append(OBSERVACOES)
    return found


def checkout_next(
    ctx: Context, *, messages: Iterable = (), state: dict[str, Any] | None = None
) -> Reply:
    """Move on to what the order still needs, or to the confirmation (rules above)."""
    state = dict(state or {})
    merged = {**ctx.state, **state}
    if not has_items(open_cart(ctx)):
        return Reply(
            messages=list(messages), state={**state, K_EMBEDDED: None}, next_step=CATEGORIA
        )
    codes = todo(ctx, merged)
    present = flow_checkout_steps(ctx)
    if present:
        codes = [c for c in codes if c in present]
    upcoming = codes[0] if codes else None
    if upcoming is None or upcoming in present:
        return Reply(
            messages=list(messages),
            state={**state, K_EMBEDDED: None},
            next_step=upcoming or CONFIRMAR,
        )
    return Reply(
        messages=list(messages), state={**state, K_EMBEDDED: upcoming}, next_step=CONFIRMAR
    )
