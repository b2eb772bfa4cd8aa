"""The order flow of the original system, with its exact handler paths.

inicio -> selecionar_categoria -> selecionar_produto -> informar_quantidade ->
adicionar_mais -> confirmar_pedido. The cart is a `rascunho` Pedido (pedidos.services), so
it survives across messages, workers and restarts: a customer who comes back resumes it.

Categories and products go out as WhatsApp lists (10 rows at most in total, so long
catalogs are paged with a "ver mais" row); the customer may also type the number or part
of the name, accents and case ignored. Every step's config is optional; the keys are
listed in each handler's `config_help`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import cancel, kit
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.registry import register
from chatbots.interceptors.base import Interceptor
from pedidos import selectors, services
from pedidos.models import Categoria, Pedido, Produto
from pedidos.money import format_brl

# Codes of the original flow; a tenant's bot may rename none of them.
INICIO = "inicio"
CATEGORIA = "selecionar_categoria"
PRODUTO = "selecionar_produto"
QUANTIDADE = "informar_quantidade"
ADICIONAR = "adicionar_mais"
CONFIRMAR = "confirmar_pedido"


def _cart(ctx: Context) -> Pedido:
    return services.carrinho_get_or_create(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def _open_cart(ctx: Context) -> Pedido | None:
    return selectors.carrinho_get_open(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def _choose(ctx: Context, items: list, page: kit.Page, *, prefix: str):
    """What the customer picked: a row id, a number on the page shown, or a name.

    Returns an item, kit.MORE, kit.BACK or None. The title of a tap on an older list counts
    as typed; a typed "mais" on the last page is not understood (never a name search).
    """
    choice = kit.navigation(ctx, prefix, read_tap_titles=True)
    if choice == kit.MORE and not page.has_more and ctx.reply_id != f"{prefix}:{kit.MORE}":
        return None
    return choice or kit.pick(ctx, items, page, prefix=prefix, title_of=lambda i: i.nome)


# --- 1. inicio -------------------------------------------------------------------------


@register
class InicioHandlerPedidos(kit.FlowHandler):
    label = gettext_lazy("Pedidos: início (saudação e retomada do carrinho)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Bem-vindo à nossa loja."}')
    KEYS = ("text",)

    def enter(self, ctx: Context) -> Reply:
        greeting = ctx.config.get("text") or _("Olá! 😊 Vamos fazer seu pedido.")
        cart = _open_cart(ctx)
        if cart is not None and cart.itens.exists():
            # Coming back mid-order: show the cart and carry on from "add more?".
            return Reply(
                messages=[wa.Text(body=greeting + "\n" + _("Você tem um pedido em andamento."))],
                next_step=ADICIONAR,
            )
        return Reply(messages=[wa.Text(body=greeting)], next_step=CATEGORIA, clear_state=True)

    def handle(self, ctx: Context) -> Reply:
        return self.enter(ctx)


# --- 2. selecionar_categoria -----------------------------------------------------------


@register
class SelecionarCategoriaHandler(kit.FlowHandler):
    label = gettext_lazy("Pedidos: escolher categoria")
    config_help = gettext_lazy('Opcional: {"text": "Escolha uma categoria:"}')
    KEYS = ("text",)

    def _items(self, ctx: Context) -> list[Categoria]:
        return list(
            selectors.categoria_list_available(tenant=ctx.chatbot.tenant).order_by(
                "ordem", "nome", "id"
            )
        )

    def enter(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        if not items:
            return Reply(
                messages=[
                    wa.Text(
                        body=_("Nosso cardápio está vazio no momento. Tente mais tarde, por favor.")
                    )
                ],
                end=True,
            )
        page = kit.page_of(items, ctx.state.get("pagina_categoria", 0))
        rows = [
            wa.Row(id=f"cat:{c.pk}", title=kit.cut(c.nome, wa.LIST_ROW_TITLE_MAX))
            for c in page.items
        ]
        body = ctx.config.get("text") or _("Escolha uma categoria:")
        return Reply(
            messages=[
                kit.list_message(
                    body=body,
                    button=_("Ver categorias"),
                    prefix="cat",
                    rows=rows,
                    more=page.has_more,
                    back=False,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        page = kit.page_of(items, ctx.state.get("pagina_categoria", 0))
        choice = _choose(ctx, items, page, prefix="cat")
        if choice == kit.MORE:
            return Reply(state={"pagina_categoria": page.number + 1}, next_step=CATEGORIA)
        if choice in (None, kit.BACK):
            return Reply(
                messages=[
                    wa.Text(
                        body=_(
                            "Não encontrei essa categoria. Escolha uma da lista ou digite o número."
                        )
                    )
                ],
                next_step=CATEGORIA,
                not_understood=True,
            )
        return Reply(
            state={"categoria_id": choice.pk, "pagina_categoria": 0, "pagina_produto": 0},
            next_step=PRODUTO,
        )


# --- 3. selecionar_produto -------------------------------------------------------------


@register
class SelecionarProdutoHandler(kit.FlowHandler):
    label = gettext_lazy("Pedidos: escolher produto")
    config_help = gettext_lazy('Opcional: {"text": "Escolha um produto:"}')
    KEYS = ("text",)

    def _categoria(self, ctx: Context) -> Categoria | None:
        return Categoria.objects.filter(
            tenant=ctx.chatbot.tenant, pk=ctx.state.get("categoria_id"), ativo=True
        ).first()

    def enter(self, ctx: Context) -> Reply:
        categoria = self._categoria(ctx)
        items = list(selectors.produto_list_available(categoria=categoria)) if categoria else []
        if not items:
            return Reply(
                messages=[wa.Text(body=_("Essa categoria não tem produtos disponíveis agora."))],
                next_step=CATEGORIA,
            )
        page = kit.page_of(items, ctx.state.get("pagina_produto", 0))
        rows = [
            wa.Row(
                id=f"prod:{p.pk}",
                title=kit.cut(p.nome, wa.LIST_ROW_TITLE_MAX),
                description=kit.cut(
                    " – ".join(filter(None, [format_brl(p.preco), p.descricao])),
                    wa.LIST_ROW_DESCRIPTION_MAX,
                ),
            )
            for p in page.items
        ]
        body = ctx.config.get("text") or _("*%(categoria)s*: escolha um produto.") % {
            "categoria": categoria.nome
        }
        return Reply(
            messages=[
                kit.list_message(
                    body=kit.cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver produtos"),
                    prefix="prod",
                    rows=rows,
                    more=page.has_more,
                    back=True,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        categoria = self._categoria(ctx)
        if categoria is None:
            return Reply(next_step=CATEGORIA)
        items = list(selectors.produto_list_available(categoria=categoria))
        page = kit.page_of(items, ctx.state.get("pagina_produto", 0))
        choice = _choose(ctx, items, page, prefix="prod")
        if choice == kit.MORE:
            return Reply(state={"pagina_produto": page.number + 1}, next_step=PRODUTO)
        if choice == kit.BACK:
            return Reply(state={"pagina_categoria": 0}, next_step=CATEGORIA)
        if choice is None:
            return Reply(
                messages=[
                    wa.Text(
                        body=_(
                            "Não encontrei esse produto. Escolha um da lista ou digite o número."
                        )
                    )
                ],
                next_step=PRODUTO,
                not_understood=True,
            )
        return Reply(state={"produto_id": choice.pk}, next_step=QUANTIDADE)


# --- 4. informar_quantidade ------------------------------------------------------------


@register
class InformarQuantidadeHandler(kit.FlowHandler):
    label = gettext_lazy("Pedidos: informar quantidade")
    config_help = gettext_lazy('Opcional: {"max_quantidade": 20} (padrão 99)')
    KEYS = ("max_quantidade",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        kit.only_keys(config, cls.KEYS, texts=())
        maximo = config.get("max_quantidade", services.MAX_QUANTITY)
        if not isinstance(maximo, int) or isinstance(maximo, bool) or maximo < 1:
            raise ValidationError(_("“max_quantidade” deve ser um número inteiro maior que zero."))

    def _produto(self, ctx: Context) -> Produto | None:
        return Produto.objects.filter(
            tenant=ctx.chatbot.tenant, pk=ctx.state.get("produto_id"), ativo=True
        ).first()

    def enter(self, ctx: Context) -> Reply:
        produto = self._produto(ctx)
        if produto is None:
            return Reply(next_step=PRODUTO)
        return Reply(
            messages=[
                wa.Text(
                    body=_("Quantas unidades de *%(nome)s* (%(preco)s cada)? Digite um número.")
                    % {"nome": produto.nome, "preco": format_brl(produto.preco)}
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        produto = self._produto(ctx)
        if produto is None:
            return Reply(
                messages=[wa.Text(body=_("Esse produto não está mais disponível."))],
                next_step=PRODUTO,
            )
        maximo = ctx.config.get("max_quantidade", services.MAX_QUANTITY)
        try:
            services.carrinho_add_item(
                pedido=_cart(ctx), produto=produto, quantidade=ctx.text, maximum=maximo
            )
        except ValidationError as exc:
            # Re-prompt with what is expected; the cart is untouched.
            return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
        return Reply(next_step=ADICIONAR)


# --- 5. adicionar_mais and 6. confirmar_pedido: the cart with three buttons ------------

ADD = "pedido:adicionar"
FINISH = "pedido:finalizar"
CANCEL = "pedido:cancelar"
CONFIRM = "pedido:confirmar"


def _cancel(ctx: Context) -> Reply:
    cart = _open_cart(ctx)
    if cart is not None:
        services.carrinho_empty(pedido=cart)
    return _cancelled()


def _cancelled() -> Reply:
    return Reply(
        messages=[
            wa.Text(
                body=_("Pedido cancelado e carrinho esvaziado. Quando quiser, é só mandar um oi.")
            )
        ],
        end=True,
    )


class _CartQuestion(kit.FlowHandler):
    """Shows the cart and asks with three buttons; "Adicionar mais" and "Cancelar" do the
    same at both steps, `answer` handles the step's own choices (None: not understood)."""

    QUESTION: ClassVar[str]  # lazy, with %(resumo)s

    def enter(self, ctx: Context) -> Reply:
        cart = _open_cart(ctx)
        if cart is None or not cart.itens.exists():
            return Reply(next_step=CATEGORIA)
        body = str(self.QUESTION) % {"resumo": selectors.pedido_summarize(pedido=cart)}
        return Reply(messages=[self.ask(body)])

    def handle(self, ctx: Context) -> Reply:
        choice = self.pressed(ctx)
        if choice == ADD:
            return Reply(state={"pagina_categoria": 0}, next_step=CATEGORIA)
        if choice == CANCEL:
            return _cancel(ctx)
        return self.answer(ctx, choice)

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        raise NotImplementedError


@register
class AdicionarMaisHandler(_CartQuestion):
    label = gettext_lazy("Pedidos: adicionar mais itens?")
    config_help = gettext_lazy("Sem configuração.")

    OPTIONS = [
        (ADD, gettext_lazy("Adicionar mais")),
        (FINISH, gettext_lazy("Finalizar")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": ADD, "mais": ADD, "nao": FINISH, "fechar": FINISH, "finalizar pedido": FINISH}
    QUESTION = gettext_lazy("🛒 Seu carrinho:\n%(resumo)s\n\nQuer adicionar mais alguma coisa?")

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        if choice == FINISH:
            return Reply(next_step=CONFIRMAR)
        return Reply(
            messages=[
                wa.Text(body=_("Toque em um dos botões: Adicionar mais, Finalizar ou Cancelar."))
            ],
            next_step=ADICIONAR,
        )


@register
class ConfirmarPedidoHandler(_CartQuestion):
    label = gettext_lazy("Pedidos: confirmar pedido")
    config_help = gettext_lazy('Opcional: {"text": "Obrigado! Seu pedido já vai para a cozinha."}')
    KEYS = ("text",)

    OPTIONS = [
        (CONFIRM, gettext_lazy("Confirmar")),
        (ADD, gettext_lazy("Adicionar mais")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": CONFIRM, "ok": CONFIRM, "confirmo": CONFIRM, "nao": CANCEL}
    QUESTION = gettext_lazy("Confira seu pedido:\n%(resumo)s\n\nPosso confirmar?")

    def answer(self, ctx: Context, choice: str | None) -> Reply:
        if choice != CONFIRM:
            return Reply(
                messages=[wa.Text(body=_("Toque em Confirmar, Adicionar mais ou Cancelar."))],
                next_step=CONFIRMAR,
            )
        cart = _open_cart(ctx)
        if cart is None:
            return Reply(next_step=CATEGORIA)
        try:
            pedido = services.pedido_confirm(pedido=cart)
        except ValidationError as exc:
            # Out of stock since it was added, or the cart emptied: say why, keep the cart.
            return Reply(messages=[wa.Text(body=" ".join(exc.messages))], next_step=ADICIONAR)
        thanks = ctx.config.get("text") or _("Obrigado! Já estamos preparando. 🍕")
        body = _("✅ Pedido nº %(numero)s confirmado!\n%(resumo)s\n\n%(thanks)s") % {
            "numero": pedido.numero,
            "resumo": selectors.pedido_summarize(pedido=pedido),
            "thanks": thanks,
        }
        return Reply(messages=[wa.Text(body=body)], end=True)


# --- WhatsApp catalog carts ------------------------------------------------------------


def catalog_order(ctx: Context) -> Reply | None:
    """Interceptor: an `order` message (a cart sent from the WhatsApp catalog) becomes a
    confirmed Pedido directly, whatever step the conversation is at."""
    if ctx.message is None or ctx.message.type != "order":
        return None
    items = (ctx.message.data.get("order") or {}).get("product_items") or []
    try:
        pedido, unknown = services.pedido_create_from_whatsapp_order(
            tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot, product_items=items
        )
    except services.ItensNaoEncontrados as exc:
        return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
    except ValidationError as exc:
        return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
    body = _("✅ Recebemos seu pedido nº %(numero)s:\n%(resumo)s") % {
        "numero": pedido.numero,
        "resumo": selectors.pedido_summarize(pedido=pedido),
    }
    if unknown:
        body += "\n\n" + _("Não incluímos (indisponíveis): %(itens)s.") % {
            "itens": ", ".join(unknown)
        }
    return Reply(messages=[kit.text(body)], end=True)


class CatalogOrder(Interceptor):
    """A cart sent from the WhatsApp catalog becomes an order, whatever the step."""

    def intercept(self, ctx: Context) -> Reply | None:
        return catalog_order(ctx)


# --- A typed "cancelar" (chatbots.handlers.cancel) -------------------------------------


@cancel.register
def cancel_open_order(ctx: Context) -> Reply | None:
    """Typed "cancelar" at an order step, or with items in the open cart: the same as the
    order steps' Cancelar button (cart emptied, conversation ended)."""
    at_order_step = ctx.step is not None and ctx.step.handler_path.startswith(f"{__name__}.")
    cart = _open_cart(ctx)
    has_items = cart is not None and cart.itens.exists()
    if not (at_order_step or has_items):
        return None
    if has_items:
        services.carrinho_empty(pedido=cart)
    return _cancelled()
