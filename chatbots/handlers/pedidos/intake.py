"""The order flow's meaning of an order typed anywhere (chatbots.handlers.intents).

"quero pedir uma pizza" (the local rule "pedido") and "quero uma pizza calabresa" (the rule
"wants": asking for something by name) open the order flow with what was said filled in,
from the first message on: one product found by the menu's search (accents, plurals, typos,
synonyms: catalog.search_products) goes straight to its quantity; several are offered as a
list; a category's name ("uma pizza") opens that category. The cart a customer left is
kept: what they name is added to it.

Inside the order flow its steps take such messages themselves (each searches the menu), so
the flow is asked only from elsewhere: a new conversation, another flow's step, or the
assistant's "Fazer pedido" button with what the customer had written
(chatbots.ai.interceptors). Nothing named: "pedido" starts the flow at its greeting (the
understanding interceptor's default), "wants" is not an order (a question, the assistant).
Closed hours: the greeting says when it opens.
"""

from __future__ import annotations

from chatbots.ai.intent import WANTS_RULE
from chatbots.handlers import intents
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.pedidos.base import (
    CATEGORIA,
    CLEAN_STATE,
    INICIO,
    K_CATEGORY,
    PRODUTO,
    QUANTIDADE,
    configuracao,
    is_order_step,
    text,
)
from chatbots.handlers.pedidos.catalog import (
    DEFAULT_GREETING,
    SelecionarCategoriaHandler,
    offer_products,
    search_products,
)
from chatbots.models import Step
from chatbots.text import match_candidates
from pedidos import checkout

# The steps a product or category named anywhere lands on.
_NEEDED = (INICIO, CATEGORIA, PRODUTO, QUANTIDADE)


def _menu_reply(ctx: Context) -> Reply | None:
    """The product or category `ctx.text` names (as selecionar_categoria reads a name: one
    product wins over the category it mentions), or None."""
    produtos = search_products(ctx)
    if len(produtos) == 1:
        return offer_products(ctx, produtos)
    categorias = match_candidates(
        ctx.text, SelecionarCategoriaHandler()._items(ctx), title_of=lambda c: c.nome, fuzzy=True
    )
    if len(categorias) == 1:
        return Reply(state={K_CATEGORY: categorias[0].pk}, next_step=PRODUTO)
    return offer_products(ctx, produtos)


@intents.register("pedido", WANTS_RULE)
def order_from_text(ctx: Context, rule: str) -> Reply | None:
    """ "quero uma pizza calabresa": its quantity; "quero pedir uma pizza": the pizzas."""
    if ctx.step is not None and is_order_step(ctx.step.handler_path):
        return None  # the order steps search what is typed at them
    steps = dict(
        Step.objects.filter(chatbot=ctx.chatbot, active=True, code__in=_NEEDED).values_list(
            "code", "handler_path"
        )
    )
    if set(steps) != set(_NEEDED) or not all(is_order_step(p) for p in steps.values()):
        return None
    found = _menu_reply(ctx)
    if found is None:
        return None  # "pedido": the flow's greeting; "wants": not something on the menu
    if checkout.closed_reason(configuracao=configuracao(ctx)) is not None:
        return Reply(clear_state=True, next_step=INICIO)  # its greeting says when it opens
    messages = []
    if not ctx.conversation.current_step:
        # A new conversation: the business's greeting first, as the flow's first step says it.
        config = Step.objects.get(chatbot=ctx.chatbot, code=INICIO).config
        greeting = config.get("text") if isinstance(config, dict) else None
        messages.append(text(greeting or str(DEFAULT_GREETING)))
    return Reply(
        messages=messages,
        clear_state=True,
        state={**CLEAN_STATE, **found.state},
        next_step=found.next_step,
    )
