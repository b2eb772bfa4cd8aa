"""Money as Brazilians read it: `R$ 1.234,56`. Values are Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENTS = Decimal("0.01")


def money_round(valor: Decimal) -> Decimal:
    """Round to cents the way a receipt does (half up, not banker's rounding)."""
    return Decimal(valor).quantize(CENTS, rounding=ROUND_HALF_UP)


def format_brl(valor: Decimal | int) -> str:
    """`Decimal("1234.56")` -> `"R$ 1.234,56"`; negatives as `"-R$ 10,00"`.

    Formatted by hand rather than with locale/`number_format`: the message goes to a
    customer whatever the server's locale or the request's language.
    """
    if isinstance(valor, float):
        raise TypeError("money must be Decimal, not float")
    valor = money_round(Decimal(valor))
    sinal = "-" if valor < 0 else ""
    inteiro, centavos = f"{abs(valor):.2f}".split(".")
    grupos = []
    while len(inteiro) > 3:
        grupos.insert(0, inteiro[-3:])
        inteiro = inteiro[:-3]
    grupos.insert(0, inteiro)
    return f"{sinal}R$ {'.'.join(grupos)},{centavos}"
