"""Lookups made once per unit of work instead of once per message.

The inbound processor (chatbots.processor) answers a batch of turns in one transaction;
inside `memo.scope()` a value looked up with `memo.cached(key, compute)` (say, whether a
tenant has event webhooks, a cache round trip) is computed once for the batch. Outside a
scope `cached` just computes: the web process and Celery tasks see every change at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_values: ContextVar[dict | None] = ContextVar("memo_values", default=None)


@contextmanager
def scope() -> Iterator[None]:
    """Remember `cached` values until the block ends (a nested scope shares the outer one)."""
    if _values.get() is not None:
        yield
        return
    token = _values.set({})
    try:
        yield
    finally:
        _values.reset(token)


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    values = _values.get()
    if values is None:
        return compute()
    if key not in values:
        values[key] = compute()
    return values[key]


def put(key: Hashable, value) -> None:
    """Remember `value` for the rest of the scope (nothing outside one)."""
    values = _values.get()
    if values is not None:
        values[key] = value


def get(key: Hashable, default=None):
    values = _values.get()
    return default if values is None else values.get(key, default)


# The ids of the conversations a processor batch already knows (chatbots.processor): a
# watcher called for one of them may load what it needs for all of them at once.
BATCH_CONVERSATIONS = "batch:conversations"


def forget(key: Hashable) -> None:
    """Drop a remembered value (its source changed inside the scope)."""
    values = _values.get()
    if values is not None:
        values.pop(key, None)
