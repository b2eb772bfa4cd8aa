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

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import messages as wa
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.registry import register
from chatbots.text import match_option, normalize
from pedidos import selectors, services
from pedidos.models import Categoria, Pedido, Produto
from pedidos.money import formatar_reais

# Codes of the original flow; a tenant's bot may rename none of them.
INICIO = "inicio"
CATEGORIA = "selecionar_categoria"
PRODUTO = "selecionar_produto"
QUANTIDADE = "informar_quantidade"
ADICIONAR = "adicionar_mais"
CONFIRMAR = "confirmar_pedido"

MORE_ID = "mais"
BACK_ID = "voltar"
# WhatsApp allows 10 list rows in total (PROTOCOLS.md §2.2): items + "ver mais" + "voltar".
PAGE_SIZE = 8


def _cut(text: str, limit: int) -> str:
    """Fit a catalog name into a WhatsApp field; the full name goes in the description."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cart(ctx: Context) -> Pedido:
    return services.carrinho_obter_ou_criar(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def _open_cart(ctx: Context) -> Pedido | None:
    return selectors.carrinho_aberto(
        tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot
    )


def _only_keys(config: dict, allowed: tuple[str, ...]) -> None:
    if not isinstance(config, dict):
        raise ValidationError(_("A configuração deve ser um objeto JSON, por exemplo {}."))
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise ValidationError(
            _("Chave desconhecida “%(key)s”. As chaves aceitas são: %(allowed)s.")
            % {"key": unknown[0], "allowed": ", ".join(allowed) or "—"}
        )
    for key in allowed:
        if key in config and key != "max_quantidade" and not isinstance(config[key], str):
            raise ValidationError(_("“%(key)s” deve ser um texto entre aspas.") % {"key": key})


@dataclass
class Page:
    items: list
    page: int
    has_more: bool


def _page(items: list, page: int) -> Page:
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    chunk = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return Page(items=chunk, page=page, has_more=page < pages - 1)


def _choose(ctx: Context, items: list, page: Page, *, prefix: str):
    """What the customer picked: a row id, a number on the page shown, or a name.

    Returns an item, MORE_ID, BACK_ID or None.
    """
    reply_id = ctx.reply_id
    if reply_id == f"{prefix}:{MORE_ID}":
        return MORE_ID
    if reply_id == f"{prefix}:{BACK_ID}":
        return BACK_ID
    if reply_id.startswith(f"{prefix}:"):
        pk = reply_id.split(":", 1)[1]
        return next((i for i in items if str(i.pk) == pk), None)
    typed = normalize(ctx.text)
    if typed in ("mais", "ver mais", "proxima", "proximos"):
        return MORE_ID if page.has_more else None
    if typed in ("voltar", "volta"):
        return BACK_ID
    # A number refers to the rows on the page shown; a name searches the whole catalog.
    if typed.isdigit():
        n = int(typed)
        return page.items[n - 1] if 1 <= n <= len(page.items) else None
    return match_option(
        ctx.text, items, id_of=lambda i: f"{prefix}:{i.pk}", title_of=lambda i: i.nome
    )


def _list(
    *, body: str, button: str, prefix: str, page: Page, rows: list[wa.Row], back: bool
) -> wa.ListMessage:
    extra = []
    if page.has_more:
        extra.append(
            wa.Row(id=f"{prefix}:{MORE_ID}", title=_("Ver mais"), description=_("Próxima página"))
        )
    if back:
        extra.append(wa.Row(id=f"{prefix}:{BACK_ID}", title=_("Voltar")))
    return wa.ListMessage(
        body=body, button=button, sections=[wa.Section(title=_("Opções"), rows=rows + extra)]
    )


# --- 1. inicio -------------------------------------------------------------------------


@register
class InicioHandlerPedidos(Handler):
    label = gettext_lazy("Pedidos: início (saudação e retomada do carrinho)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Bem-vindo à nossa loja."}')

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ("text",))

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
class SelecionarCategoriaHandler(Handler):
    label = gettext_lazy("Pedidos: escolher categoria")
    config_help = gettext_lazy('Opcional: {"text": "Escolha uma categoria:"}')

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ("text",))

    def _items(self, ctx: Context) -> list[Categoria]:
        return list(
            selectors.categorias_disponiveis(tenant=ctx.chatbot.tenant).order_by(
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
        page = _page(items, ctx.state.get("pagina_categoria", 0))
        rows = [
            wa.Row(id=f"cat:{c.pk}", title=_cut(c.nome, wa.LIST_ROW_TITLE_MAX)) for c in page.items
        ]
        body = ctx.config.get("text") or _("Escolha uma categoria:")
        return Reply(
            messages=[
                _list(
                    body=body,
                    button=_("Ver categorias"),
                    prefix="cat",
                    page=page,
                    rows=rows,
                    back=False,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        page = _page(items, ctx.state.get("pagina_categoria", 0))
        choice = _choose(ctx, items, page, prefix="cat")
        if choice == MORE_ID:
            return Reply(state={"pagina_categoria": page.page + 1}, next_step=CATEGORIA)
        if choice in (None, BACK_ID):
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
class SelecionarProdutoHandler(Handler):
    label = gettext_lazy("Pedidos: escolher produto")
    config_help = gettext_lazy('Opcional: {"text": "Escolha um produto:"}')

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ("text",))

    def _categoria(self, ctx: Context) -> Categoria | None:
        return Categoria.objects.filter(
            tenant=ctx.chatbot.tenant, pk=ctx.state.get("categoria_id"), ativo=True
        ).first()

    def enter(self, ctx: Context) -> Reply:
        categoria = self._categoria(ctx)
        items = list(selectors.produtos_disponiveis(categoria=categoria)) if categoria else []
        if not items:
            return Reply(
                messages=[wa.Text(body=_("Essa categoria não tem produtos disponíveis agora."))],
                next_step=CATEGORIA,
            )
        page = _page(items, ctx.state.get("pagina_produto", 0))
        rows = [
            wa.Row(
                id=f"prod:{p.pk}",
                title=_cut(p.nome, wa.LIST_ROW_TITLE_MAX),
                description=_cut(
                    " – ".join(filter(None, [formatar_reais(p.preco), p.descricao])),
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
                _list(
                    body=_cut(body, wa.INTERACTIVE_BODY_MAX),
                    button=_("Ver produtos"),
                    prefix="prod",
                    page=page,
                    rows=rows,
                    back=True,
                )
            ]
        )

    def handle(self, ctx: Context) -> Reply:
        categoria = self._categoria(ctx)
        if categoria is None:
            return Reply(next_step=CATEGORIA)
        items = list(selectors.produtos_disponiveis(categoria=categoria))
        page = _page(items, ctx.state.get("pagina_produto", 0))
        choice = _choose(ctx, items, page, prefix="prod")
        if choice == MORE_ID:
            return Reply(state={"pagina_produto": page.page + 1}, next_step=PRODUTO)
        if choice == BACK_ID:
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
class InformarQuantidadeHandler(Handler):
    label = gettext_lazy("Pedidos: informar quantidade")
    config_help = gettext_lazy('Opcional: {"max_quantidade": 20} (padrão 99)')

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ("max_quantidade",))
        maximo = config.get("max_quantidade", services.QUANTIDADE_MAXIMA)
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
                    % {"nome": produto.nome, "preco": formatar_reais(produto.preco)}
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
        maximo = ctx.config.get("max_quantidade", services.QUANTIDADE_MAXIMA)
        try:
            services.carrinho_adicionar(
                pedido=_cart(ctx), produto=produto, quantidade=ctx.text, maximo=maximo
            )
        except ValidationError as exc:
            # Re-prompt with what is expected; the cart is untouched.
            return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
        return Reply(next_step=ADICIONAR)


# --- 5. adicionar_mais -----------------------------------------------------------------

ADD = "pedido:adicionar"
FINISH = "pedido:finalizar"
CANCEL = "pedido:cancelar"
CONFIRM = "pedido:confirmar"


def _buttons(body: str, options: list[tuple[str, str]]) -> wa.Buttons:
    return wa.Buttons(
        body=_cut(body, wa.INTERACTIVE_BODY_MAX),
        buttons=[wa.Button(id=i, title=t) for i, t in options],
    )


def _match_button(
    ctx: Context, options: list[tuple[str, str]], aliases: dict[str, str]
) -> str | None:
    if ctx.reply_id in dict(options):
        return ctx.reply_id
    typed = normalize(ctx.text)
    if typed in aliases:
        return aliases[typed]
    found = match_option(ctx.text, options, id_of=lambda o: o[0], title_of=lambda o: o[1])
    return found[0] if found else None


def _cancel(ctx: Context) -> Reply:
    cart = _open_cart(ctx)
    if cart is not None:
        services.carrinho_esvaziar(pedido=cart)
    return Reply(
        messages=[
            wa.Text(
                body=_("Pedido cancelado e carrinho esvaziado. Quando quiser, é só mandar um oi.")
            )
        ],
        end=True,
    )


@register
class AdicionarMaisHandler(Handler):
    label = gettext_lazy("Pedidos: adicionar mais itens?")
    config_help = gettext_lazy("Sem configuração.")

    OPTIONS = [
        (ADD, gettext_lazy("Adicionar mais")),
        (FINISH, gettext_lazy("Finalizar")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": ADD, "mais": ADD, "nao": FINISH, "fechar": FINISH, "finalizar pedido": FINISH}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ())

    def enter(self, ctx: Context) -> Reply:
        cart = _open_cart(ctx)
        if cart is None or not cart.itens.exists():
            return Reply(next_step=CATEGORIA)
        body = _("🛒 Seu carrinho:\n%(resumo)s\n\nQuer adicionar mais alguma coisa?") % {
            "resumo": selectors.pedido_resumo(pedido=cart)
        }
        return Reply(messages=[_buttons(body, [(i, str(t)) for i, t in self.OPTIONS])])

    def handle(self, ctx: Context) -> Reply:
        choice = _match_button(ctx, [(i, str(t)) for i, t in self.OPTIONS], self.ALIASES)
        if choice == ADD:
            return Reply(state={"pagina_categoria": 0}, next_step=CATEGORIA)
        if choice == FINISH:
            return Reply(next_step=CONFIRMAR)
        if choice == CANCEL:
            return _cancel(ctx)
        return Reply(
            messages=[
                wa.Text(body=_("Toque em um dos botões: Adicionar mais, Finalizar ou Cancelar."))
            ],
            next_step=ADICIONAR,
        )


# --- 6. confirmar_pedido ---------------------------------------------------------------


@register
class ConfirmarPedidoHandler(Handler):
    label = gettext_lazy("Pedidos: confirmar pedido")
    config_help = gettext_lazy('Opcional: {"text": "Obrigado! Seu pedido já vai para a cozinha."}')

    OPTIONS = [
        (CONFIRM, gettext_lazy("Confirmar")),
        (ADD, gettext_lazy("Adicionar mais")),
        (CANCEL, gettext_lazy("Cancelar")),
    ]
    ALIASES = {"sim": CONFIRM, "ok": CONFIRM, "confirmo": CONFIRM, "nao": CANCEL}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        _only_keys(config, ("text",))

    def enter(self, ctx: Context) -> Reply:
        cart = _open_cart(ctx)
        if cart is None or not cart.itens.exists():
            return Reply(next_step=CATEGORIA)
        body = _("Confira seu pedido:\n%(resumo)s\n\nPosso confirmar?") % {
            "resumo": selectors.pedido_resumo(pedido=cart)
        }
        return Reply(messages=[_buttons(body, [(i, str(t)) for i, t in self.OPTIONS])])

    def handle(self, ctx: Context) -> Reply:
        choice = _match_button(ctx, [(i, str(t)) for i, t in self.OPTIONS], self.ALIASES)
        if choice == ADD:
            return Reply(state={"pagina_categoria": 0}, next_step=CATEGORIA)
        if choice == CANCEL:
            return _cancel(ctx)
        if choice != CONFIRM:
            return Reply(
                messages=[wa.Text(body=_("Toque em Confirmar, Adicionar mais ou Cancelar."))],
                next_step=CONFIRMAR,
            )
        cart = _open_cart(ctx)
        if cart is None:
            return Reply(next_step=CATEGORIA)
        try:
            pedido = services.pedido_confirmar(pedido=cart)
        except ValidationError as exc:
            # Out of stock since it was added, or the cart emptied: say why, keep the cart.
            return Reply(messages=[wa.Text(body=" ".join(exc.messages))], next_step=ADICIONAR)
        thanks = ctx.config.get("text") or _("Obrigado! Já estamos preparando. 🍕")
        body = _("✅ Pedido nº %(numero)s confirmado!\n%(resumo)s\n\n%(thanks)s") % {
            "numero": pedido.numero,
            "resumo": selectors.pedido_resumo(pedido=pedido),
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
        pedido, unknown = services.pedido_from_whatsapp_order(
            tenant=ctx.chatbot.tenant, cliente=ctx.cliente, chatbot=ctx.chatbot, product_items=items
        )
    except services.ItensNaoEncontrados as exc:
        return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
    except ValidationError as exc:
        return Reply(messages=[wa.Text(body=" ".join(exc.messages))])
    body = _("✅ Recebemos seu pedido nº %(numero)s:\n%(resumo)s") % {
        "numero": pedido.numero,
        "resumo": selectors.pedido_resumo(pedido=pedido),
    }
    if unknown:
        body += "\n\n" + _("Não incluímos (indisponíveis): %(itens)s.") % {
            "itens": ", ".join(unknown)
        }
    return Reply(messages=[wa.Text(body=_cut(body, wa.TEXT_MAX))], end=True)
