"""config.webhooks.load_json: what every webhook body is decoded with."""

from __future__ import annotations

import pytest

from config.webhooks import JSON_MAX_DEPTH, JsonRefused, load_json


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"[-Infinity]",
        b'{"a": 1e999}',
        b'{"a": -1e400}',
        b"[" * (JSON_MAX_DEPTH + 1) + b"]" * (JSON_MAX_DEPTH + 1),
        b"[" * 100_000,
        b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8: not UTF-8
        b"\xff\xfe{\x00}\x00",  # UTF-16
        b"{broken",
        b'{"a": 1' + b"0" * 5000 + b"}",  # over Python's digits limit for int()
    ],
    ids=lambda b: repr(b[:16]),
)
def test_it_refuses_what_json_or_postgresql_does_not_take(body):
    with pytest.raises(JsonRefused):
        load_json(body)


def test_nul_and_lone_surrogates_become_the_replacement_character_in_keys_and_values():
    value = load_json(b'{"a\\u0000": ["x\\ud800", {"b": "\\udfff"}], "ok": "\\ud83d\\ude00"}')

    assert value == {"a\ufffd": ["x\ufffd", {"b": "\ufffd"}], "ok": "😀"}


def test_a_body_at_the_depth_limit_and_ordinary_numbers_are_kept():
    deep = b"[" * JSON_MAX_DEPTH + b"1" + b"]" * JSON_MAX_DEPTH

    assert load_json(deep) is not None
    assert load_json(b'{"a": 1e308, "b": -0.5, "c": 10000000000000000000000}') == {
        "a": 1e308,
        "b": -0.5,
        "c": 10**22,
    }


def test_a_string_holding_json_is_read_with_the_same_rules():
    assert load_json('{"a": "\x00"}'.replace("\x00", "\\u0000")) == {"a": "\ufffd"}
    assert load_json('["\ud800"]') == ["\ufffd"]
    with pytest.raises(JsonRefused):
        load_json("[NaN]")
