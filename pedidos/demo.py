"""The demo business seed_demo installs, in one place: one pizzeria with one address, one week,
one fee table and its menu (a few categories, a dozen products, some with the synonyms
customers type).

Everything the demo tells a customer about the store comes from here: the order settings
and delivery fees (`catalogo_demo`), the business profile and knowledge base the assistant
answers from, the menu bot's texts and the agenda's hours (chatbots.starter_flows
.install_demo), so the menu bot, the order bot and the agenda bot describe the same store.
Idempotent. No Pix key: a demo must never show a code that pays someone."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import Tenant
from pedidos import checkout, hours, services
from pedidos.models import Categoria, ConfiguracaoPedidos, FormaPagamento, Produto, TaxaEntrega
from pedidos.money import format_brl

MENU = {
    "Pizzas": [
        ("Pizza Margherita", "Molho de tomate, mussarela e manjericão", "49.90"),
        ("Pizza Calabresa", "Calabresa fatiada e cebola", "47.90"),
        ("Pizza Quatro Queijos", "Mussarela, provolone, parmesão e gorgonzola", "54.90"),
        ("Pizza Portuguesa", "Presunto, ovo, cebola e azeitona", "52.90"),
        ("Pizza Frango com Catupiry", "Frango desfiado e Catupiry", "53.90"),
    ],
    "Bebidas": [
        ("Coca-Cola 2L", "Garrafa de 2 litros", "14.00"),
        ("Refrigerante lata", "350 ml", "6.00"),
        ("Suco natural", "Laranja ou limão, 500 ml", "9.50"),
        ("Água mineral", "500 ml", "4.00"),
    ],
    "Sobremesas": [
        ("Pizza de Chocolate", "Chocolate ao leite e granulado", "39.90"),
        ("Pudim", "Fatia", "12.00"),
        ("Petit gâteau", "Com sorvete de creme", "18.90"),
        ("Açaí 300 ml", "Com granola e banana", "16.00"),
    ],
}


SINONIMOS = {
    "Coca-Cola 2L": "coca, coca cola, refri",
    "Refrigerante lata": "lata, latinha, refri",
    "Pizza Frango com Catupiry": "frango",
}

# --- The store ----------------------------------------------------------------------------

ENDERECO = "Rua das Flores, 123 – Vila Madalena, São Paulo – SP"
TELEFONE = "1130000000"
# The week, as agenda.HorarioFuncionamento stores it: (datetime.weekday(), opens, closes);
# Every day, 8:00 to 23:00, so whoever tries the demo in the evening or at the weekend
# finds it open (pedido_fechado.yaml shows a closed store). The orders take it as
# ConfiguracaoPedidos.horarios.
SEMANA = [(weekday, time(8), time(23)) for weekday in range(7)]
# Delivery: a fee per neighbourhood, the default one for the others, and how long it takes.
BAIRROS = {"Centro": Decimal("5.00"), "Jardim América": Decimal("8.00")}
TAXA_PADRAO = Decimal("12.00")
PRAZO_ENTREGA = gettext_lazy("40 a 60 minutos")

DIAS = (
    gettext_lazy("segunda"),
    gettext_lazy("terça"),
    gettext_lazy("quarta"),
    gettext_lazy("quinta"),
    gettext_lazy("sexta"),
    gettext_lazy("sábado"),
    gettext_lazy("domingo"),
)


def horarios() -> dict[str, str]:
    """SEMANA as ConfiguracaoPedidos.horarios: {"seg": "09:00-18:00", ...}."""
    return {hours.DAYS[day]: f"{opens:%H:%M}-{closes:%H:%M}" for day, opens, closes in SEMANA}


def configuracao() -> dict:
    """The ConfiguracaoPedidos fields of the demo store."""
    return {"endereco_loja": ENDERECO, "taxa_entrega_padrao": TAXA_PADRAO, "horarios": horarios()}


def _hora(value: time) -> str:
    return f"{value.hour}h{value.minute:02d}" if value.minute else f"{value.hour}h"


def _lista(itens: list[str]) -> str:
    """ "a", "a e b", "a, b e c"."""
    return (
        itens[0]
        if len(itens) == 1
        else _("%(itens)s e %(ultimo)s")
        % {
            "itens": ", ".join(itens[:-1]),
            "ultimo": itens[-1],
        }
    )


def semana_aberta() -> str:
    """When the store is open, in words: "de segunda a sexta, das 9h às 18h"."""
    grupos: list[tuple[list[int], tuple[time, time]]] = []
    for day, opens, closes in sorted(SEMANA):
        if grupos and grupos[-1][1] == (opens, closes) and grupos[-1][0][-1] == day - 1:
            grupos[-1][0].append(day)
        else:
            grupos.append(([day], (opens, closes)))
    partes = []
    for days, (opens, closes) in grupos:
        dias = (
            str(DIAS[days[0]])
            if len(days) == 1
            else _("de %(primeiro)s a %(ultimo)s")
            % {"primeiro": DIAS[days[0]], "ultimo": DIAS[days[-1]]}
        )
        partes.append(
            _("%(dias)s, das %(abre)s às %(fecha)s")
            % {"dias": dias, "abre": _hora(opens), "fecha": _hora(closes)}
        )
    return "; ".join(partes)


def _fechados() -> list[int]:
    abertos = {day for day, _opens, _closes in SEMANA}
    return [day for day in range(7) if day not in abertos]


def horario_texto() -> str:
    """ "De segunda a sexta, das 9h às 18h. Sábado e domingo: fechado." """
    texto = semana_aberta()
    texto = texto[:1].upper() + texto[1:] + "."
    fechados = [str(DIAS[day]) for day in _fechados()]
    if fechados:
        dias = _lista(fechados)
        texto += " " + _("%(dias)s: fechado.") % {"dias": dias[:1].upper() + dias[1:]}
    return texto


def domingo_texto() -> str:
    """The answer to "vocês abrem domingo?"."""
    if 6 in _fechados():
        return _("Aos domingos estamos fechados. Funcionamos %(semana)s.") % {
            "semana": semana_aberta()
        }
    return _("Abrimos, sim! Funcionamos %(semana)s.") % {"semana": semana_aberta()}


def entrega_texto() -> str:
    """The answer to "vocês entregam? qual a taxa?": the fee table, the time, the pickup."""
    linhas = [f"• {bairro}: {format_brl(valor)}" for bairro, valor in BAIRROS.items()]
    linhas.append(_("• Outros bairros: %(taxa)s") % {"taxa": format_brl(TAXA_PADRAO)})
    return _(
        "Entregamos, sim: o pedido chega em %(prazo)s. Taxa de entrega por bairro:\n"
        "%(taxas)s\nTambém dá para retirar no balcão, sem taxa."
    ) % {"prazo": PRAZO_ENTREGA, "taxas": "\n".join(linhas)}


def pagamento_texto() -> str:
    """The answer to "aceitam cartão ou Pix?": the methods the order flow offers."""
    nomes = {
        FormaPagamento.PIX: _("Pix"),
        FormaPagamento.CARTAO: _("cartão de crédito ou débito (na entrega ou no balcão)"),
        FormaPagamento.DINHEIRO: _("dinheiro"),
    }
    formas = checkout.payments(ConfiguracaoPedidos(**configuracao()))
    return _("Aceitamos %(formas)s.") % {"formas": _lista([str(nomes[f]) for f in formas])}


# --- Installing it ------------------------------------------------------------------------


def catalogo_demo(*, tenant: Tenant) -> None:
    """The menu, the store's order settings and its delivery fees (kept when already there)."""
    for ordem, (nome_categoria, produtos) in enumerate(MENU.items(), start=1):
        categoria = Categoria.objects.filter(tenant=tenant, nome=nome_categoria).first()
        if categoria is None:
            categoria = services.categoria_create(tenant=tenant, nome=nome_categoria, ordem=ordem)
        for nome, descricao, preco in produtos:
            if not Produto.objects.filter(tenant=tenant, nome=nome).exists():
                services.produto_create(
                    tenant=tenant,
                    categoria=categoria,
                    nome=nome,
                    descricao=descricao,
                    preco=Decimal(preco),
                    sinonimos=SINONIMOS.get(nome, ""),
                )
    if not ConfiguracaoPedidos.objects.filter(tenant=tenant).exists():
        checkout.configuracao_save(tenant=tenant, **configuracao())
    for bairro, valor in BAIRROS.items():
        if not TaxaEntrega.objects.filter(tenant=tenant, bairro=bairro).exists():
            checkout.taxa_entrega_create(tenant=tenant, bairro=bairro, valor=valor)
