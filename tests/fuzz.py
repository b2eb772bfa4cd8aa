"""Hypothesis strategies for the webhook fuzz (chatbots/tests/test_webhook_fuzz.py).

A fuzz case is a valid, real-shaped body with a few random mutations: a value anywhere
replaced by hostile JSON (NUL, lone surrogates, NaN and 1e999, huge integers, long strings,
deep nesting, wrong types), a key dropped or added. The test command runs a short,
deterministic run (`FUZZ_EXAMPLES`, default below); `make fuzz` a long one.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Examples per fuzz test: small in the test command, thousands in `make fuzz`.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))

# Deterministic (derandomize: the same cases on every run, no example database), no
# deadline (a shared machine is slow now and then; speed is not what is tested).
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The providers without a routing step before the signature get half as many.
FUZZ_SETTINGS_HALF = settings(FUZZ_SETTINGS, max_examples=max(EXAMPLES // 2, 1))

HOSTILE_STRINGS = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "😀",
    "x" * 300,
    "9" * 5000,
    "5511987654321",
    "+55 (11) 98765-4321",
    "text",
    "interactive",
    "nfm_reply",
    "contacts",
    "read",
    "failed",
    "whatsapp_business_account",
    '{"flow_token": "t"}',
    "[" * 300,
    "<script>",
    "-1",
    "1e999",
]


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for level in range(levels):
        value = [value] if level % 2 else {"a": value}
    return value


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_STRINGS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
hostile_values = st.one_of(
    json_values,
    st.integers(min_value=1, max_value=600).map(nested),
)


def paths(value: Any) -> list[tuple]:
    """Every path (tuple of keys and indexes) to a value inside `value`, the root excluded."""
    found: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in items:
            found.append((*path, key))
            stack.append(((*path, key), child))
    return sorted(found, key=repr)


def _parent(value: Any, path: tuple) -> Any:
    for key in path[:-1]:
        value = value[key]
    return value


@st.composite
def mutated(draw, base: dict, *, max_mutations: int = 3) -> bytes:
    """`base` as a JSON body, with 1 to `max_mutations` random mutations."""
    value = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        candidates = paths(value)
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = _parent(value, path)
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(hostile_values)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(HOSTILE_STRINGS + ["extra"]))] = draw(hostile_values)
        else:
            parent.append(draw(hostile_values))
    # allow_nan: json.dumps writes NaN and Infinity, as a broken client would.
    return json.dumps(value, allow_nan=True, ensure_ascii=draw(st.booleans())).encode(
        "utf-8", "surrogatepass"
    )
