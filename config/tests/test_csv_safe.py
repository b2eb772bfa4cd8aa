"""config.csv_safe: no cell of an exported CSV is run by a spreadsheet as a formula."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from billing.analytics import history_csv
from config import csv_safe


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x","y")', "+5511987650001", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"],
)
def test_text_a_spreadsheet_would_evaluate_gets_a_leading_quote(text):
    out = io.StringIO()
    csv_safe.writer(out).writerow([text])
    (row,) = list(csv.reader(io.StringIO(out.getvalue())))
    assert row == ["'" + text]


def test_other_text_numbers_and_dates_are_written_as_they_are():
    out = io.StringIO()
    writer = csv_safe.DictWriter(out, fieldnames=["a", "b", "c", "d", "e"])
    writer.writeheader()
    writer.writerows([{"a": "Ana = Bia", "b": -5, "c": Decimal("-1.50"), "d": date(2025, 1, 2)}])
    (row,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row == {"a": "Ana = Bia", "b": "-5", "c": "-1.50", "d": "2025-01-02", "e": ""}


def test_the_analytics_history_csv_neutralises_text_cells():
    text = history_csv([{"date": "=1+1", "messages_in": -3}])
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["date"], row["messages_in"]) == ("'=1+1", "-3")
