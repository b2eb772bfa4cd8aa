"""The errors of the catalog and order writes (pedidos.services, pedidos.checkout).

Each is a django ValidationError with a pt-BR message the customer or staff can act on: the
API answers them as 400, handlers show `exc.messages`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from pedidos import status as st
from pedidos.models import Pedido, Produto
from pedidos.money import format_brl
from pedidos.status import StatusPedido


class QuantidadeInvalida(ValidationError):
    """Not a whole number from 1 to the maximum. The message says what is expected."""

    def __init__(self, *, maximo: int):
        self.maximo = maximo
        super().__init__(
            _("Quantidade inválida: envie um número inteiro de 1 a %(maximo)s (por exemplo, 2).")
            % {"maximo": maximo},
            code="quantidade_invalida",
        )


class EstoqueInsuficiente(ValidationError):
    def __init__(self, *, produto: Produto, disponivel: int):
        self.produto = produto
        self.disponivel = max(disponivel, 0)
        if self.disponivel == 0:
            message = _("%(nome)s está esgotado no momento.") % {"nome": produto.nome}
        else:
            message = _(
                "Temos só %(disponivel)s unidade(s) de %(nome)s em estoque: "
                "escolha uma quantidade de até %(disponivel)s."
            ) % {"nome": produto.nome, "disponivel": self.disponivel}
        super().__init__(message, code="estoque_insuficiente")


class ProdutoIndisponivel(ValidationError):
    """Inactive, or not this tenant's (then worded as not found: existence never leaks)."""

    def __init__(self, *, produto: Produto | None = None):
        self.produto = produto
        if produto is None:
            message = _("Produto não encontrado.")
        else:
            message = _("%(nome)s não está disponível no momento.") % {"nome": produto.nome}
        super().__init__(message, code="produto_indisponivel")


class CarrinhoVazio(ValidationError):
    def __init__(self):
        super().__init__(
            _("O pedido não tem itens: adicione pelo menos um produto."), code="carrinho_vazio"
        )


class TransicaoInvalida(ValidationError):
    """An illegal status change. `permitidos` holds the statuses allowed from `atual`."""

    def __init__(self, *, pedido: Pedido, atual: str, desejado: str):
        self.atual = atual
        self.desejado = desejado
        self.permitidos = st.allowed_transitions(atual)
        if self.permitidos:
            opcoes = ", ".join(st.label(s) for s in self.permitidos)
        else:
            opcoes = _("nenhuma (situação final)")
        super().__init__(
            _(
                "O pedido nº %(numero)s está %(atual)s e não pode passar para %(desejado)s. "
                "Situações permitidas: %(opcoes)s."
            )
            % {
                "numero": pedido.numero,
                "atual": st.label(atual),
                "desejado": st.label(desejado),
                "opcoes": opcoes,
            },
            code="transicao_invalida",
        )


class PedidoFechado(ValidationError):
    """The cart was already confirmed or cancelled (a double tap, a stale screen)."""

    def __init__(self, *, pedido: Pedido):
        self.pedido = pedido
        super().__init__(
            _("O pedido nº %(numero)s já está %(status)s e não pode mais ser alterado.")
            % {"numero": pedido.numero, "status": st.label(pedido.status)},
            code="pedido_fechado",
        )


class StatusDesconhecido(ValidationError):
    def __init__(self, *, status: str):
        self.permitidos = [s.value for s in StatusPedido]
        super().__init__(
            _("Situação desconhecida: %(status)s. Use uma destas: %(opcoes)s.")
            % {"status": status, "opcoes": ", ".join(self.permitidos)},
            code="status_desconhecido",
        )


class ItensNaoEncontrados(ValidationError):
    """A WhatsApp catalog cart none of whose items we sell (`desconhecidos` names them)."""

    def __init__(self, *, desconhecidos: list[str]):
        self.desconhecidos = desconhecidos
        super().__init__(
            _("Não encontramos no nosso cardápio nenhum item do seu carrinho: %(itens)s.")
            % {"itens": ", ".join(desconhecidos) or "-"},
            code="itens_nao_encontrados",
        )


# --- The checkout (pedidos.checkout) -----------------------------------------------------


class AbaixoDoMinimo(ValidationError):
    def __init__(self, *, minimo, subtotal, falta):
        self.falta = falta
        super().__init__(
            _(
                "O pedido mínimo é de %(minimo)s (sem a entrega) e seu carrinho está em "
                "%(subtotal)s: faltam %(falta)s. Que tal adicionar mais alguma coisa?"
            )
            % {
                "minimo": format_brl(minimo),
                "subtotal": format_brl(subtotal),
                "falta": format_brl(falta),
            },
            code="abaixo_do_minimo",
        )


class LojaFechada(ValidationError):
    """Outside the opening hours; `quando` says when it opens ("hoje às 18:00") or is ""."""

    def __init__(self, *, quando: str):
        self.quando = quando
        if quando:
            message = _("Estamos fechados agora. Abrimos %(quando)s.") % {"quando": quando}
        else:
            message = _("Estamos fechados no momento e sem previsão de abertura nesta semana.")
        super().__init__(message, code="loja_fechada")


class BairroNaoAtendido(ValidationError):
    def __init__(self, *, bairro: str, atendidos: list[str]):
        self.atendidos = atendidos
        super().__init__(
            _("Ainda não entregamos no bairro %(bairro)s. Entregamos em: %(lista)s.")
            % {"bairro": bairro or "-", "lista": ", ".join(atendidos) or "-"},
            code="bairro_nao_atendido",
        )


class TrocoInsuficiente(ValidationError):
    def __init__(self, *, total):
        super().__init__(
            _("O troco precisa ser para um valor acima do total, %(total)s.")
            % {"total": format_brl(total)},
            code="troco_insuficiente",
        )


class OpcaoIndisponivel(ValidationError):
    """A delivery mode or payment method the business does not take."""

    def __init__(self, *, message: str):
        super().__init__(message, code="opcao_indisponivel")
