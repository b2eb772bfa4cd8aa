"""CSV writers whose cells a spreadsheet never runs as formulas.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets: a WhatsApp profile name
`=HYPERLINK("http://x","y")` in an export becomes a live link, and worse formulas reach
other files or run commands. OWASP's guidance (https://owasp.org/www-community/attacks/CSV_Injection)
is to prefix such cells with a single quote, which the spreadsheet shows as text. Only
strings are touched: numbers, dates and None are written as they are (a negative number is
a number, not a formula).

Every CSV the project writes (the LGPD export, the analytics history, their admin
downloads) goes through `writer` or `DictWriter` here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value`, with a leading single quote when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Writer:
    """csv.writer's interface (writerow, writerows) with every cell passed through `cell`."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out, **kwargs) -> _Writer:
    """Like csv.writer(out, **kwargs)."""
    return _Writer(out, **kwargs)


class DictWriter(csv.DictWriter):
    """csv.DictWriter with every value passed through `cell` (the header is ours)."""

    def writerow(self, rowdict: Mapping[str, Any]):
        return super().writerow({k: cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)
