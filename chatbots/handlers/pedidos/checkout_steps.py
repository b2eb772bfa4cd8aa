"""The checkout steps, between "Finalizar" and the confirmation: name, delivery or pickup,
address, payment and notes (pedidos.checkout holds the rules, route.py the order).

Each step asks only when its piece is missing and otherwise moves on (`enter` returns
route.checkout_next), so "Adicionar mais" from the confirmation and back skips what was
answered. Answers are written on the cart at once. Every step takes the asides of aside.py
(a greeting, a question, "atendente") and offers "Falar com atendente".
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import kit, schemas
from chatbots.handlers.base import Context, Reply
from chatbots.handlers.pedidos import aside
from chatbots.handlers.pedidos.base import (
    ENDERECO,
    K_AWAIT_CHANGE,
    K_NOTES_ASKED,
    MODO,
    NOME,
    OBSERVACOES,
    PAGAMENTO,
    OrderStep,
    configuracao,
    open_cart,
    person_button,
    text,
    with_person_row,
)
from chatbots.handlers.pedidos.route import checkout_next
from chatbots.handlers.registry import register
from chatbots.text import match_candidates, normalize
from clientes.services import cliente_update
from pedidos import checkout, selectors
from pedidos.models import FormaPagamento, ModoEntrega, Pedido
from pedidos.money import format_brl

DELIVERY = "pedido:entrega"
PICKUP = "pedido:retirada"
SAME_ADDRESS = "pedido:mesmo_endereco"
NO_CHANGE = "pedido:sem_troco"
NO_NOTES = "pedido:sem_obs"

_MONEY = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d+)(?:[,.](\d{1,2}))?")
_NO_CHANGE_WORDS = re.compile(
    r"^(?:nao|n|sem troco|nao preciso|nao precisa|nao preciso de troco|nao obrigad[oa]|"
    r"valor certo|dinheiro certo|certinho|trocado|tenho trocado|nao vou precisar)\b"
)
_NO_NOTES_WORDS = re.compile(
    r"^(?:nao|n|nada|nenhuma|nenhum|sem|sem observac(?:ao|oes)|nao obrigad[oa]|tudo certo|"
    r"so isso|e isso|ok|pode mandar)$"
)


def _missing(ctx: Context, pedido: Pedido) -> list[str]:
    return checkout.missing(pedido=pedido, cliente=ctx.cliente, configuracao=configuracao(ctx))


def parse_money(typed: str) -> Decimal | None:
    """ "100", "R$ 50,00", "troco pra 1.000" -> Decimal; None without a number."""
    match = _MONEY.search(typed)
    if not match:
        return None
    whole, cents = match.group(1).replace(".", ""), match.group(2) or "0"
    try:
        return Decimal(f"{whole}.{cents.ljust(2, '0')}")
    except InvalidOperation:
        return None


def _error_reply(exc: ValidationError) -> Reply:
    return Reply(messages=[text(" ".join(exc.messages))])


# --- informar_nome ---------------------------------------------------------------------


@register
class InformarNomeHandler(OrderStep):
    label = gettext_lazy("Pedidos: nome do cliente (quando o WhatsApp não informou)")
    config_help = gettext_lazy("Sem configuração.")
    config_schema = schemas.NONE

    def enter(self, ctx: Context) -> Reply:
        if (ctx.cliente.nome or "").strip():
            return checkout_next(ctx)
        return Reply(
            messages=[kit.buttons(_("Para o pedido, qual é o seu nome?"), [person_button()])]
        )

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, NOME)
        if side is not None:
            return side
        typed = " ".join(ctx.text.split())[:80]
        if (
            not typed
            or not re.search(r"[^\W\d_]", typed)
            or len(re.findall(r"\d", typed)) > 2
            or aside.looks_like_question(normalize(typed))
        ):
            return aside.after(ctx) or Reply(
                messages=[text(_("Não entendi. Qual é o seu nome? (ex.: Maria)"))],
                not_understood=True,
            )
        if typed == typed.lower() or typed == typed.upper():
            typed = typed.title()
        cliente_update(cliente=ctx.cliente, nome=typed)
        return checkout_next(ctx)


# --- modo_entrega ----------------------------------------------------------------------


@register
class ModoEntregaHandler(OrderStep):
    label = gettext_lazy("Pedidos: entrega ou retirada")
    config_help = gettext_lazy(
        "Sem configuração (o que a loja aceita está em Configuração de pedidos)."
    )
    config_schema = schemas.NONE

    ALIASES = {
        "entregar": DELIVERY,
        "delivery": DELIVERY,
        "entrega em casa": DELIVERY,
        "retirar": PICKUP,
        "buscar": PICKUP,
        "vou buscar": PICKUP,
        "eu busco": PICKUP,
        "retiro": PICKUP,
        "balcao": PICKUP,
        "retirada no local": PICKUP,
    }

    def options(self) -> list[tuple[str, str]]:
        return [(DELIVERY, _("Entrega")), (PICKUP, _("Retirada")), person_button()]

    def enter(self, ctx: Context) -> Reply:
        pedido = open_cart(ctx)
        cfg = configuracao(ctx)
        if pedido is None or checkout.MODO not in _missing(ctx, pedido):
            return checkout_next(ctx)
        modes = checkout.modes(cfg)
        if len(modes) == 1:  # nothing to choose: say which and go on
            checkout.pedido_set_delivery(pedido=pedido, configuracao=cfg, modo=modes[0])
            note = (
                _("Fazemos só entrega.")
                if modes[0] == ModoEntrega.ENTREGA
                else _("Pedidos só para retirada no local.")
            )
            return checkout_next(ctx, messages=[text(note)])
        body = _("Vai ser entrega ou retirada no local?")
        if cfg.endereco_loja:
            body += "\n" + _("Retirada em: %(endereco)s") % {"endereco": cfg.endereco_loja}
        return Reply(messages=[kit.buttons(body, self.options())])

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, MODO)
        if side is not None:
            return side
        choice = self.pressed(ctx)
        if choice not in (DELIVERY, PICKUP):
            return aside.after(ctx) or Reply(
                messages=[text(_("Toque em Entrega ou Retirada, por favor."))],
                next_step=MODO,
                not_understood=True,
            )
        modo = ModoEntrega.ENTREGA if choice == DELIVERY else ModoEntrega.RETIRADA
        pedido = open_cart(ctx)
        if pedido is None:
            return checkout_next(ctx)
        try:
            checkout.pedido_set_delivery(pedido=pedido, configuracao=configuracao(ctx), modo=modo)
        except ValidationError as exc:
            return _error_reply(exc)
        return checkout_next(ctx)


# --- informar_endereco -----------------------------------------------------------------


def _location_address(data: dict) -> tuple[str, Decimal | None, Decimal | None]:
    """A WhatsApp location message as an address the kitchen reads, and its coordinates."""
    loc = data.get("location") or {}
    try:
        lat = Decimal(str(loc["latitude"])).quantize(Decimal("0.000001"))
        lng = Decimal(str(loc["longitude"])).quantize(Decimal("0.000001"))
    except (KeyError, InvalidOperation, TypeError):
        return "", None, None
    place = ", ".join(str(loc[k]).strip() for k in ("name", "address") if loc.get(k))
    # A maps link the delivery person can open (Google's documented URL scheme:
    # https://developers.google.com/maps/documentation/urls/get-started#search-action).
    link = f"https://www.google.com/maps/search/?api=1&query={lat},{lng}"
    return (place + "\n" if place else "") + _("Localização: %(link)s") % {"link": link}, lat, lng


@register
class InformarEnderecoHandler(OrderStep):
    label = gettext_lazy("Pedidos: endereço de entrega (digitado ou localização)")
    config_help = gettext_lazy("Sem configuração (bairros e taxas em Taxas de entrega).")
    config_schema = schemas.NONE

    def enter(self, ctx: Context) -> Reply:
        pedido = open_cart(ctx)
        if pedido is None or checkout.ENDERECO not in _missing(ctx, pedido):
            return checkout_next(ctx)
        if pedido.endereco_entrega.strip():
            return Reply(messages=[self._ask_bairro(ctx)])
        body = _(
            "Qual é o endereço de entrega? Escreva rua, número, bairro e complemento, ou envie "
            "sua localização (📎 › Localização)."
        )
        options = [person_button()]
        last = selectors.pedido_last_delivery(tenant=ctx.chatbot.tenant, cliente=ctx.cliente)
        if last is not None:
            where = " – ".join(filter(None, [last.endereco_entrega.splitlines()[0], last.bairro]))
            body += "\n\n" + _("Último endereço: %(endereco)s") % {"endereco": where}
            options.insert(0, (SAME_ADDRESS, _("Mesmo endereço")))
        return Reply(messages=[kit.buttons(body, options)])

    def _ask_bairro(self, ctx: Context) -> wa.Outbound:
        bairros = checkout.bairros_list(tenant=ctx.chatbot.tenant)
        body = _("Qual é o bairro?")
        if len(bairros) > kit.PAGE_SIZE:
            return kit.buttons(body + " " + _("Digite o nome, por favor."), [person_button()])
        rows = [
            wa.Row(
                id=f"bairro:{t.pk}",
                title=kit.cut(t.bairro, wa.LIST_ROW_TITLE_MAX),
                description=_("Taxa: %(taxa)s") % {"taxa": format_brl(t.valor)},
            )
            for t in bairros
        ]
        message = wa.ListMessage(
            body=body, button=_("Ver bairros"), sections=[wa.Section(title=_("Bairros"), rows=rows)]
        )
        return with_person_row(message)

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, ENDERECO)
        if side is not None:
            return side
        pedido = open_cart(ctx)
        if pedido is None:
            return checkout_next(ctx)
        cfg = configuracao(ctx)
        try:
            if ctx.reply_id == PICKUP:
                checkout.pedido_set_delivery(
                    pedido=pedido, configuracao=cfg, modo=ModoEntrega.RETIRADA
                )
                return checkout_next(ctx)
            if pedido.endereco_entrega.strip() and checkout.asks_bairro(cfg):
                return self._take_bairro(ctx, pedido, cfg)
            return self._take_address(ctx, pedido, cfg)
        except ValidationError as exc:
            return self._refused(exc, cfg)

    def _take_address(self, ctx: Context, pedido: Pedido, cfg) -> Reply:
        lat = lng = None
        if ctx.reply_id == SAME_ADDRESS:
            last = selectors.pedido_last_delivery(tenant=ctx.chatbot.tenant, cliente=ctx.cliente)
            if last is None:
                return Reply(next_step=ENDERECO)
            endereco, bairro = last.endereco_entrega, last.bairro
            lat, lng = last.latitude, last.longitude
        elif ctx.message is not None and ctx.message.type == "location":
            endereco, lat, lng = _location_address(ctx.message.data)
            bairro = self._bairro_in(ctx, endereco, cfg)
        else:
            endereco = ctx.text.strip()
            typed = normalize(endereco)
            if len(typed) < 6 or not re.search(r"[a-z]", typed) or aside.looks_like_question(typed):
                return aside.after(ctx) or Reply(
                    messages=[
                        text(
                            _(
                                "Não entendi o endereço. Escreva rua, número e bairro (ex.: Rua "
                                "das Flores, 120, Centro) ou envie sua localização."
                            )
                        )
                    ],
                    not_understood=True,
                )
            bairro = self._bairro_in(ctx, endereco, cfg)
        if not endereco:
            return Reply(next_step=ENDERECO)
        checkout.pedido_set_delivery(
            pedido=pedido,
            configuracao=cfg,
            modo=ModoEntrega.ENTREGA,
            endereco=endereco,
            bairro=bairro,
            latitude=lat,
            longitude=lng,
        )
        return checkout_next(ctx)

    def _bairro_in(self, ctx: Context, endereco: str, cfg) -> str:
        """The one neighbourhood of the fee list named in the address, or ""."""
        found = match_candidates(
            endereco, checkout.bairros_list(tenant=cfg.tenant), title_of=lambda t: t.bairro
        )
        return found[0].bairro if len(found) == 1 else ""

    def _take_bairro(self, ctx: Context, pedido: Pedido, cfg) -> Reply:
        bairros = checkout.bairros_list(tenant=cfg.tenant)
        chosen = ""
        if ctx.reply_id.startswith("bairro:"):
            pk = ctx.reply_id.split(":", 1)[1]
            chosen = next((t.bairro for t in bairros if str(t.pk) == pk), "")
        elif ctx.text.strip():
            found = match_candidates(ctx.text, bairros, title_of=lambda t: t.bairro, fuzzy=True)
            if len(found) == 1:
                chosen = found[0].bairro
            elif not found:  # another neighbourhood: the default fee, or refused naming the list
                chosen = " ".join(ctx.text.split())[:100]
        if not chosen:
            return Reply(messages=[self._ask_bairro(ctx)])
        checkout.pedido_set_delivery(
            pedido=pedido, configuracao=cfg, modo=ModoEntrega.ENTREGA, bairro=chosen
        )
        return checkout_next(ctx)

    def _refused(self, exc: ValidationError, cfg) -> Reply:
        options = [person_button()]
        if cfg.aceita_retirada:
            options.insert(0, (PICKUP, _("Retirar no local")))
        body = " ".join(exc.messages) + "\n" + _("Digite outro bairro ou escolha uma opção.")
        return Reply(messages=[kit.buttons(body, options)])


# --- forma_pagamento -------------------------------------------------------------------

PAYMENT_WORDS = {
    FormaPagamento.PIX: ["pix"],
    FormaPagamento.CARTAO: [
        "cartao",
        "credito",
        "debito",
        "maquininha",
        "maquina",
        "cartao de credito",
    ],
    FormaPagamento.DINHEIRO: ["dinheiro", "especie", "em dinheiro", "cash"],
}


@register
class FormaPagamentoHandler(OrderStep):
    label = gettext_lazy("Pedidos: forma de pagamento (Pix, cartão, dinheiro e troco)")
    config_help = gettext_lazy("Sem configuração (a chave Pix está em Configuração de pedidos).")
    config_schema = schemas.NONE

    def _options(self, ctx: Context, pedido: Pedido) -> list[tuple[str, str, str]]:
        """(forma, title, description) of each payment method offered."""
        pickup = pedido.modo_entrega == ModoEntrega.RETIRADA
        described = {
            FormaPagamento.PIX: (_("Pix"), _("Código copia e cola na confirmação")),
            FormaPagamento.CARTAO: (
                _("Cartão na retirada") if pickup else _("Cartão na entrega"),
                _("Crédito ou débito, na maquininha"),
            ),
            FormaPagamento.DINHEIRO: (_("Dinheiro"), _("Diga se precisa de troco")),
        }
        return [(f, *described[f]) for f in checkout.payments(configuracao(ctx))]

    def enter(self, ctx: Context) -> Reply:
        pedido = open_cart(ctx)
        if pedido is None:
            return checkout_next(ctx)
        total = format_brl(pedido.total)
        if ctx.state.get(K_AWAIT_CHANGE):
            body = _("Troco para quanto? O total é %(total)s. Digite o valor (ex.: 100).") % {
                "total": total
            }
            return Reply(
                messages=[
                    kit.buttons(body, [(NO_CHANGE, _("Não preciso de troco")), person_button()])
                ]
            )
        if checkout.PAGAMENTO not in _missing(ctx, pedido):
            return checkout_next(ctx)
        rows = [
            wa.Row(id=f"pay:{forma}", title=title, description=description)
            for forma, title, description in self._options(ctx, pedido)
        ]
        message = wa.ListMessage(
            body=_("Como você prefere pagar? Total: %(total)s") % {"total": total},
            button=_("Formas de pagamento"),
            sections=[wa.Section(title=_("Pagamento"), rows=rows)],
        )
        return Reply(messages=[with_person_row(message)])

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, PAGAMENTO)
        if side is not None:
            return side
        pedido = open_cart(ctx)
        if pedido is None:
            return checkout_next(ctx)
        if ctx.state.get(K_AWAIT_CHANGE) and not ctx.reply_id.startswith("pay:"):
            return self._take_change(ctx, pedido)
        forma = self._chosen(ctx, pedido)  # (a row of the list tapped again: a new choice)
        if forma is None:
            return aside.after(ctx) or Reply(
                messages=[text(_("Escolha uma forma de pagamento da lista, por favor."))],
                next_step=PAGAMENTO,
                not_understood=True,
            )
        if forma == FormaPagamento.DINHEIRO:
            amount = parse_money(ctx.text) if not ctx.reply_id else None
            if amount is None:
                return Reply(state={K_AWAIT_CHANGE: True}, next_step=PAGAMENTO)
            return self._take_change(ctx, pedido, amount=amount)
        try:
            checkout.pedido_set_payment(pedido=pedido, configuracao=configuracao(ctx), forma=forma)
        except ValidationError as exc:
            return _error_reply(exc)
        return checkout_next(ctx, state={K_AWAIT_CHANGE: None})

    def _chosen(self, ctx: Context, pedido: Pedido) -> str | None:
        offered = self._options(ctx, pedido)
        if ctx.reply_id.startswith("pay:"):
            forma = ctx.reply_id.split(":", 1)[1]
            return forma if forma in [o[0] for o in offered] else None
        found = match_candidates(
            ctx.text,
            offered,
            title_of=lambda o: o[1],
            names_of=lambda o: PAYMENT_WORDS[o[0]],
            fuzzy=True,
        )
        typed = normalize(ctx.text)
        if not found and typed.isdigit():
            index = int(typed)
            found = offered[index - 1 : index] if 1 <= index <= len(offered) else []
        if not found:  # named inside a sentence: "dinheiro, troco pra 100"
            found = [
                o
                for o in offered
                if any(re.search(rf"\b{w}\b", typed) for w in PAYMENT_WORDS[o[0]])
            ]
        return found[0][0] if len(found) == 1 else None

    def _take_change(self, ctx: Context, pedido: Pedido, amount: Decimal | None = None) -> Reply:
        typed = normalize(ctx.text)
        if amount is None and ctx.reply_id != NO_CHANGE and not _NO_CHANGE_WORDS.match(typed):
            amount = parse_money(typed)
            if amount is None:
                return aside.after(ctx) or Reply(
                    messages=[
                        text(_("Digite o valor da nota para o troco (ex.: 100) ou “não preciso”."))
                    ],
                    not_understood=True,
                )
        try:
            checkout.pedido_set_payment(
                pedido=pedido,
                configuracao=configuracao(ctx),
                forma=FormaPagamento.DINHEIRO,
                troco_para=amount,
            )
        except ValidationError as exc:
            return _error_reply(exc)
        return checkout_next(ctx, state={K_AWAIT_CHANGE: None})


# --- observacoes_pedido ----------------------------------------------------------------


@register
class ObservacoesHandler(OrderStep):
    label = gettext_lazy("Pedidos: observações (ex.: sem cebola)")
    config_help = gettext_lazy('Opcional: {"text": "Alguma observação para a cozinha?"}')
    config_schema = schemas.OPTIONAL_TEXT
    KEYS = ("text",)

    def enter(self, ctx: Context) -> Reply:
        if ctx.state.get(K_NOTES_ASKED):
            return checkout_next(ctx)
        body = ctx.config.get("text") or _(
            "Alguma observação para o pedido? (ex.: sem cebola, ponto de referência) "
            "Escreva aqui ou toque em Sem observações."
        )
        return Reply(
            messages=[kit.buttons(body, [(NO_NOTES, _("Sem observações")), person_button()])]
        )

    def handle(self, ctx: Context) -> Reply:
        side = aside.before(ctx, OBSERVACOES)
        if side is not None:
            return side
        pedido = open_cart(ctx)
        if pedido is None:
            return checkout_next(ctx)
        typed = normalize(ctx.text)
        if ctx.reply_id == NO_NOTES or _NO_NOTES_WORDS.match(typed.rstrip("!. ")):
            notes = ""
        elif ctx.message is not None and ctx.message.type == "text" and ctx.text.strip():
            notes = ctx.text.strip()
        else:
            return Reply(next_step=OBSERVACOES)
        checkout.pedido_set_notes(pedido=pedido, observacoes=notes)
        return checkout_next(ctx, state={K_NOTES_ASKED: True})
