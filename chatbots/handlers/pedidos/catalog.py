"""inicio -> selecionar_categoria -> selecionar_produto -> informar_quantidade.

Categories and products go out as WhatsApp lists (10 rows at most in total, so long
catalogs are paged with a "Ver mais" row, and "Falar com atendente" is the last row where
it fits). The customer may also type the number or the name: accents, plurals, small typos
and the product's synonyms are forgiven (chatbots.text.match_candidates with `fuzzy`), and a
product's name typed where a category is asked ("coca") finds the product across the whole
menu; several fits are offered as a list to choose from.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import kit, schemas
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.pedidos import aside
from chatbots.handlers.pedidos.base import (
    ADICIONAR,
    CANCEL,
    CATEGORIA,
    CONTINUE,
    INICIO,
    K_CATEGORY,
    K_CATEGORY_PAGE,
    K_PRODUCT,
    K_PRODUCT_PAGE,
    K_SEARCH,
    K_SEARCH_TEXT,
    PERSON,
    PRODUTO,
    QUANTIDADE,
    RESTART,
    OrderStep,
    cart,
    configuracao,
    has_items,
    open_cart,
    text,
    with_person_row,
)
from chatbots.handlers.registry import register
from chatbots.text import EXACT_TIERS, match_candidates, match_ranked, normalize
from pedidos import checkout, hours, selectors, services
from pedidos.models import Categoria, Produto
from pedidos.money import format_brl

DEFAULT_GREETING = gettext_lazy("Olá! 😊 Vamos fazer seu pedido.")


def _names(produto: Produto) -> list[str]:
    return produto.sinonimos_lista


def _typed_name(ctx: Context) -> str:
    """What to search by name: typed text, or the title of a tap on an older list."""
    if ctx.reply_id and ctx.reply_id.split(":", 1)[0] in ("cat", "prod"):
        return ""  # a row of ours: handled by id, never searched by its title
    return ctx.text


def _choose(ctx: Context, items: list, page: kit.Page, *, prefix: str, names_of=None):
    """What the customer picked: kit.MORE, kit.BACK, an item (a row id, a number on the
    page shown, or one name that fits), a list of items (several names fit) or None.

    The title of a tap on an older list counts as typed; a typed "mais" on the last page is
    not understood (never a name search)."""
    choice = kit.navigation(ctx, prefix, read_tap_titles=True)
    if choice == kit.MORE and not page.has_more and ctx.reply_id != f"{prefix}:{kit.MORE}":
        return None
    if choice:
        return choice
    if ctx.reply_id.startswith(f"{prefix}:"):
        pk = ctx.reply_id.split(":", 1)[1]
        return next((i for i in items if str(i.pk) == pk), None)
    typed = normalize(ctx.text)
    if typed.isdigit():
        return page.numbered(typed)
    found = match_candidates(
        _typed_name(ctx), items, title_of=lambda i: i.nome, names_of=names_of, fuzzy=True
    )
    if len(found) == 1:
        return found[0]
    return found or None


def _exact(ctx: Context, categoria: Categoria) -> bool:
    """Whether the customer typed the category's name itself (or its number)."""
    if normalize(ctx.text).isdigit():
        return True
    tier, _found = match_ranked(ctx.text, [categoria], title_of=lambda c: c.nome)
    return tier in EXACT_TIERS


def search_products(ctx: Context) -> list[Produto]:
    """Every orderable product whose name or synonyms fit what the customer typed."""
    typed = _typed_name(ctx)
    if not typed or normalize(typed).isdigit():
        return []
    produtos = list(selectors.produto_list_orderable(tenant=ctx.chatbot.tenant))
    return match_candidates(typed, produtos, title_of=lambda p: p.nome, names_of=_names, fuzzy=True)


def offer_products(ctx: Context, found: list[Produto]) -> Reply | None:
    """One product found: ask how many; several: list them; none: None."""
    if len(found) == 1:
        produto = found[0]
        return Reply(
            state={K_CATEGORY: produto.categoria_id, K_PRODUCT: produto.pk, K_SEARCH: None},
            next_step=QUANTIDADE,
        )
    if found:
        return Reply(
            state={
                K_SEARCH: [p.pk for p in found[:50]],
                K_SEARCH_TEXT: ctx.text[:60],
                K_PRODUCT_PAGE: 0,
            },
            next_step=PRODUTO,
        )
    return None


def _not_found(ctx: Context, body: str, code: str) -> Reply:
    return aside.after(ctx) or Reply(messages=[text(body)], next_step=code, not_understood=True)


# --- 1. inicio -------------------------------------------------------------------------


@register
class InicioHandlerPedidos(OrderStep):
    label = gettext_lazy("Pedidos: início (saudação e retomada do carrinho)")
    config_help = gettext_lazy('Opcional: {"text": "Olá! Bem-vindo à nossa loja."}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)

    def enter(self, ctx: Context) -> Reply:
        greeting = ctx.config.get("text") or str(DEFAULT_GREETING)
        cfg = configuracao(ctx)
        closed = checkout.closed_reason(configuracao=cfg)
        if closed is not None:
            # Closed hours: say when it opens (and the week), and end; "oi" asks again.
            body = _("Olá! %(fechado)s\n\n🕒 Nosso horário:\n%(horarios)s") % {
                "fechado": closed.messages[0],
                "horarios": hours.describe(cfg.horarios),
            }
            return Reply(messages=[text(body)], end=True)
        if has_items(open_cart(ctx)):
            # Coming back mid-order: the cart, and whether to carry on or start over.
            return Reply(messages=[aside.resume_offer(ctx, greeting)])
        return Reply(messages=[text(greeting)], next_step=CATEGORIA, clear_state=True)

    def handle(self, ctx: Context) -> Reply:
        # Only the resume offer above leaves the conversation here.
        if ctx.reply_id == CONTINUE:
            return Reply(next_step=ADICIONAR)
        side = aside.before(ctx, INICIO)
        if side is not None and ctx.reply_id in (RESTART, PERSON, CANCEL):
            return side
        offer = offer_products(ctx, search_products(ctx))  # "quero uma coca": add it
        return offer if offer is not None else self.enter(ctx)


# --- 2. selecionar_categoria -----------------------------------------------------------


@register
class SelecionarCategoriaHandler(OrderStep):
    label = gettext_lazy("Pedidos: escolher categoria")
    config_help = gettext_lazy('Opcional: {"text": "Escolha uma categoria:"}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)

    def _items(self, ctx: Context) -> list[Categoria]:
        return list(
            selectors.categoria_list_available(tenant=ctx.chatbot.tenant).order_by(
                "ordem", "nome", "id"
            )
        )

    def _list(self, body: str, items: list[Categoria], page: kit.Page) -> wa.ListMessage:
        rows = [
            wa.Row(id=f"cat:{c.pk}", title=kit.cut(c.nome, wa.LIST_ROW_TITLE_MAX))
            for c in page.items
        ]
        return with_person_row(
            kit.list_message(
                body=body,
                button=_("Ver categorias"),
                prefix="cat",
                rows=rows,
                more=page.has_more,
                back=False,
            )
        )

    def enter(self, ctx: Context) -> Reply:
        items = self._items(ctx)
        if not items:
            return Reply(
                messages=[
                    text(_("Nosso cardápio está vazio no momento. Tente mais tarde, por favor."))
                ],
                end=True,
            )
        page = kit.page_of(items, ctx.state.get(K_CATEGORY_PAGE, 0))
        body = ctx.config.get("text") or _("Escolha uma categoria:")
        body += "\n" + _("Você também pode digitar o nome do que procura.")
        return Reply(messages=[self._list(kit.cut(body, wa.INTERACTIVE_BODY_MAX), items, page)])

    def _open(self, categoria: Categoria) -> Reply:
        return Reply(
            state={K_CATEGORY: categoria.pk, K_CATEGORY_PAGE: 0, K_PRODUCT_PAGE: 0, K_SEARCH: None},
            next_step=PRODUTO,
        )

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, CATEGORIA)
        if side is not None:
            return side
        items = self._items(ctx)
        page = kit.page_of(items, ctx.state.get(K_CATEGORY_PAGE, 0))
        choice = _choose(ctx, items, page, prefix="cat")
        if choice == kit.MORE:
            return Reply(state={K_CATEGORY_PAGE: page.number + 1}, next_step=CATEGORIA)
        if isinstance(choice, Categoria) and (ctx.reply_id or _exact(ctx, choice)):
            return self._open(choice)
        # A product's name, anywhere in the menu, wins over a category it merely mentions
        # ("pizza margherita" is the product, "quero pizza" the category).
        found = search_products(ctx)
        if len(found) == 1:
            return offer_products(ctx, found)
        if isinstance(choice, Categoria):
            return self._open(choice)
        if found:
            return offer_products(ctx, found)
        if isinstance(choice, list):  # several categories fit: offer those
            body = _("Encontrei mais de uma categoria. Qual delas?")
            return Reply(messages=[self._list(body, choice, kit.page_of(choice, 0))])
        return _not_found(
            ctx,
            _(
                "Não encontrei essa categoria nem um produto com esse nome. Escolha uma da lista, "
                "digite o número ou o nome do produto."
            ),
            CATEGORIA,
        )


# --- 3. selecionar_produto -------------------------------------------------------------


@register
class SelecionarProdutoHandler(OrderStep):
    label = gettext_lazy("Pedidos: escolher produto")
    config_help = gettext_lazy('Opcional: {"text": "Escolha um produto:"}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)

    def _categoria(self, ctx: Context) -> Categoria | None:
        return Categoria.objects.filter(
            tenant=ctx.chatbot.tenant, pk=ctx.state.get(K_CATEGORY), ativo=True
        ).first()

    def _items(self, ctx: Context) -> tuple[list[Produto], str]:
        """The products offered (a search's or the category's) and the list's heading."""
        found = ctx.state.get(K_SEARCH)
        if found:
            by_pk = selectors.produto_list_orderable(tenant=ctx.chatbot.tenant).in_bulk(found)
            items = [by_pk[pk] for pk in found if pk in by_pk]
            heading = _("Encontrei estes produtos para “%(busca)s”. Qual deles?") % {
                "busca": ctx.state.get(K_SEARCH_TEXT) or "…"
            }
            return items, heading
        categoria = self._categoria(ctx)
        if categoria is None:
            return [], ""
        items = list(selectors.produto_list_available(categoria=categoria))
        heading = ctx.config.get("text") or _("*%(categoria)s*: escolha um produto.") % {
            "categoria": categoria.nome
        }
        return items, heading

    def enter(self, ctx: Context) -> Reply:
        items, heading = self._items(ctx)
        if not items:
            return Reply(
                messages=[text(_("Essa categoria não tem produtos disponíveis agora."))],
                state={K_SEARCH: None},
                next_step=CATEGORIA,
            )
        page = kit.page_of(items, ctx.state.get(K_PRODUCT_PAGE, 0))
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
        message = kit.list_message(
            body=kit.cut(heading, wa.INTERACTIVE_BODY_MAX),
            button=_("Ver produtos"),
            prefix="prod",
            rows=rows,
            more=page.has_more,
            back=True,
        )
        return Reply(messages=[with_person_row(message)])

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, PRODUTO)
        if side is not None:
            return side
        items, _heading = self._items(ctx)
        if not items:
            return Reply(state={K_SEARCH: None}, next_step=CATEGORIA)
        page = kit.page_of(items, ctx.state.get(K_PRODUCT_PAGE, 0))
        choice = _choose(ctx, items, page, prefix="prod", names_of=_names)
        if choice == kit.MORE:
            return Reply(state={K_PRODUCT_PAGE: page.number + 1}, next_step=PRODUTO)
        if choice == kit.BACK:
            return Reply(state={K_CATEGORY_PAGE: 0, K_SEARCH: None}, next_step=CATEGORIA)
        if isinstance(choice, Produto):
            return Reply(state={K_PRODUCT: choice.pk, K_SEARCH: None}, next_step=QUANTIDADE)
        if isinstance(choice, list):  # several of the list fit: offer just those
            return offer_products(ctx, choice)
        # Not on this list: a product of another category, or a category's name?
        offer = offer_products(ctx, search_products(ctx))
        if offer is not None:
            return offer
        categorias = SelecionarCategoriaHandler()._items(ctx)
        found = match_candidates(_typed_name(ctx), categorias, fuzzy=True)
        if len(found) == 1:
            return Reply(
                state={K_CATEGORY: found[0].pk, K_PRODUCT_PAGE: 0, K_SEARCH: None},
                next_step=PRODUTO,
            )
        return _not_found(
            ctx,
            _("Não encontrei esse produto. Escolha um da lista, digite o número ou o nome."),
            PRODUTO,
        )


# --- 4. informar_quantidade ------------------------------------------------------------


@register
class InformarQuantidadeHandler(OrderStep):
    label = gettext_lazy("Pedidos: informar quantidade")
    config_help = gettext_lazy('Opcional: {"max_quantidade": 20} (padrão 99)')
    config_schema = schemas.QUANTITY
    KEYS = ("max_quantidade",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        kit.only_keys(config, cls.KEYS, texts=())
        maximo = config.get("max_quantidade", services.MAX_QUANTITY)
        if not isinstance(maximo, int) or isinstance(maximo, bool) or maximo < 1:
            raise ValidationError(_("“max_quantidade” deve ser um número inteiro maior que zero."))

    def _produto(self, ctx: Context) -> Produto | None:
        return Produto.objects.filter(
            tenant=ctx.chatbot.tenant, pk=ctx.state.get(K_PRODUCT), ativo=True
        ).first()

    def enter(self, ctx: Context) -> Reply:
        produto = self._produto(ctx)
        if produto is None:
            return Reply(next_step=PRODUTO)
        question = text(
            _("Quantas unidades de *%(nome)s* (%(preco)s cada)? Digite um número.")
            % {"nome": produto.nome, "preco": format_brl(produto.preco)}
        )
        if not produto.imagem_url:
            return Reply(messages=[question])
        # The product's photo with its price first (WhatsApp fetches the business's link).
        photo = wa.Media(
            media_type="image",
            link=produto.imagem_url,
            caption=f"{produto.nome} — {format_brl(produto.preco)}",
        )
        return Reply(messages=[photo, question])

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, QUANTIDADE)
        if side is not None:
            return side
        produto = self._produto(ctx)
        if produto is None:
            return Reply(
                messages=[text(_("Esse produto não está mais disponível."))],
                next_step=PRODUTO,
            )
        maximo = ctx.config.get("max_quantidade", services.MAX_QUANTITY)
        try:
            services.carrinho_add_item(
                pedido=cart(ctx), produto=produto, quantidade=ctx.text, maximum=maximo
            )
        except ValidationError as exc:
            # Re-prompt with what is expected; the cart is untouched.
            return aside.after(ctx) or Reply(messages=[text(" ".join(exc.messages))])
        return Reply(state={K_SEARCH: None}, next_step=ADICIONAR)
