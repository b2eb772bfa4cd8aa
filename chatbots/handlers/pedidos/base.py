"""What every order step shares: step codes, conversation state keys, the base class and
the helpers more than one part of the flow uses (the cart, the business's rules, the
"Falar com atendente" option)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import kit
from chatbots.handlers.base import Context
from pedidos import checkout, selectors, services
from pedidos.models import ConfiguracaoPedidos, Pedido

# The package's public module: saved steps name their handler by it (Step.handler_path).
PUBLIC_MODULE = "chatbots.handlers.pedidos"

# Codes of the original flow (DESIGN.md); a tenant's bot may rename none of them.
INICIO = "inicio"
CATEGORIA = "selecionar_categoria"
PRODUTO = "selecionar_produto"
QUANTIDADE = "informar_quantidade"
ADICIONAR = "adicionar_mais"
CONFIRMAR = "confirmar_pedido"
# The checkout steps, asked between "Finalizar" and the confirmation (checkout.py).
NOME = "informar_nome"
MODO = "modo_entrega"
ENDERECO = "informar_endereco"
PAGAMENTO = "forma_pagamento"
OBSERVACOES = "observacoes_pedido"
CHECKOUT_CODES = (NOME, MODO, ENDERECO, PAGAMENTO, OBSERVACOES)
# The handler class of each, under PUBLIC_MODULE (checkout_steps.py defines them).
CHECKOUT_CLASSES = {
    NOME: "InformarNomeHandler",
    MODO: "ModoEntregaHandler",
    ENDERECO: "InformarEnderecoHandler",
    PAGAMENTO: "FormaPagamentoHandler",
    OBSERVACOES: "ObservacoesHandler",
}

# Conversation state keys. The first four are the original flow's (stored: keep them).
K_CATEGORY = "categoria_id"
K_PRODUCT = "produto_id"
K_CATEGORY_PAGE = "pagina_categoria"
K_PRODUCT_PAGE = "pagina_produto"
K_SEARCH = "pedido_busca"  # product ids found for a typed name, offered as a list
K_SEARCH_TEXT = "pedido_busca_texto"
K_EMBEDDED = "pedido_etapa_embutida"  # checkout step run inside confirmar_pedido (cart.py)
K_NOTES_ASKED = "pedido_obs_ok"
K_AWAIT_CHANGE = "pedido_aguardando_troco"

CLEAN_STATE: dict[str, Any] = {
    K_CATEGORY_PAGE: 0,
    K_PRODUCT_PAGE: 0,
    K_SEARCH: None,
    K_SEARCH_TEXT: None,
    K_EMBEDDED: None,
    K_NOTES_ASKED: None,
    K_AWAIT_CHANGE: None,
}

# The cart's buttons (adicionar_mais, confirmar_pedido).
ADD = "pedido:adicionar"
FINISH = "pedido:finalizar"
CANCEL = "pedido:cancelar"
CONFIRM = "pedido:confirmar"
# Ids of the options every order step may offer.
PERSON = "pedido:atendente"
CONTINUE = "pedido:continuar"
RESTART = "pedido:recomecar"
# Footer of the steps whose three reply buttons (WhatsApp's maximum) leave no room for a
# fourth: the way to a person, in at most 60 characters (wire.FOOTER_MAX).
PERSON_FOOTER = gettext_lazy("Para falar com uma pessoa, digite atendente.")


class OrderStep(kit.FlowHandler):
    """Base of the order steps.

    Their path is `chatbots.handlers.pedidos.<Class>` whichever module of this package
    defines them: that is the path saved steps, the starter flow and DESIGN.md name, and
    the package re-exports every step class under it.
    """

    @classmethod
    def path(cls) -> str:
        return f"{PUBLIC_MODULE}.{cls.__qualname__}"

    def ask(self, body: str) -> wa.Buttons:
        """`body` with OPTIONS as reply buttons; the way to a person in the footer."""
        message = kit.buttons(body, self.options())
        message.footer = str(PERSON_FOOTER)
        return message


def is_order_step(path: str) -> bool:
    return path.startswith(f"{PUBLIC_MODULE}.")


def cart(ctx: Context) -> Pedido:
    return services.carrinho_get_or_create(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def open_cart(ctx: Context) -> Pedido | None:
    return selectors.carrinho_get_open(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def has_items(pedido: Pedido | None) -> bool:
    return pedido is not None and pedido.itens.exists()


def configuracao(ctx: Context) -> ConfiguracaoPedidos:
    return checkout.configuracao_get(tenant=ctx.chatbot.tenant)


def person_button() -> tuple[str, str]:
    return (PERSON, _("Falar com atendente"))


def with_person_row(message: wa.ListMessage) -> wa.ListMessage:
    """`message` with a last row "Falar com atendente", when WhatsApp's 10 rows allow."""
    rows = message.rows
    if len(rows) >= wa.LIST_ROWS_MAX:
        return message
    section = message.sections[0]
    return wa.ListMessage(
        body=message.body,
        button=message.button,
        sections=[
            wa.Section(
                title=section.title,
                rows=[*rows, wa.Row(id=PERSON, title=_("Falar com atendente"))],
            )
        ],
    )


def text(body: str) -> wa.Text:
    return kit.text(body)


def summary(pedido: Pedido, cfg: ConfiguracaoPedidos) -> str:
    """The items, fee and total, then who, how it arrives, how it is paid and the notes."""
    lines = selectors.pedido_summarize(pedido=pedido)
    details = selectors.pedido_describe_checkout(pedido=pedido, store_address=cfg.endereco_loja)
    return lines + ("\n\n" + details if details else "")
