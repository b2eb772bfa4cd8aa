"""The one chain of interceptors: `settings.CHATBOT_INTERCEPTORS`, loaded once, run in order.

The paths come from the deployment's settings (never from tenant staff), so importing them
is safe. A path that does not import or is not an Interceptor subclass raises
ImproperlyConfigured naming it; the system checks in `chatbots.checks` report the same
problem at start-up (chatbots.E003, chatbots.E004), so a broken chain never silently drops
a rule such as opt-out.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor

_chain: list[Interceptor] | None = None
_lock = threading.Lock()


class InterceptorNotFound(ImproperlyConfigured):
    """An entry of CHATBOT_INTERCEPTORS cannot be used. `reason`: "import" or "not_interceptor"."""

    def __init__(self, path: str, reason: str, message: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


def interceptor_paths() -> list[str]:
    """The configured dotted class paths, in the order they run."""
    return list(settings.CHATBOT_INTERCEPTORS)


def load_interceptor(path: str) -> type[Interceptor]:
    """Import the class at `path`; raise InterceptorNotFound when it cannot be used."""
    try:
        cls = import_string(path)
    except Exception as exc:
        raise InterceptorNotFound(
            path, "import", f"Interceptor {path!r} (CHATBOT_INTERCEPTORS) does not import: {exc!r}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Interceptor)):
        raise InterceptorNotFound(
            path,
            "not_interceptor",
            f"Interceptor {path!r} (CHATBOT_INTERCEPTORS) is not a subclass of "
            "chatbots.interceptors.base.Interceptor.",
        )
    return cls


def interceptor_chain() -> list[Interceptor]:
    """One instance of each configured interceptor, in order, built on first use."""
    global _chain
    chain = _chain
    if chain is None:
        with _lock:
            if _chain is None:
                _chain = [load_interceptor(path)() for path in interceptor_paths()]
            chain = _chain
    return chain


@receiver(setting_changed)
def _forget_chain(*, setting: str, **kwargs) -> None:
    """Tests that override CHATBOT_INTERCEPTORS get their own chain."""
    global _chain
    if setting == "CHATBOT_INTERCEPTORS":
        _chain = None


def run(ctx: Context) -> Reply | None:
    """The first interceptor's Reply for `ctx`, or None when none takes the message.

    A restart answers only when no `gates_restart` interceptor after it objects (see
    chatbots.interceptors.base).
    """
    return run_traced(ctx)[0]


def run_traced(ctx: Context) -> tuple[Reply | None, str]:
    """`run`, with the path of the interceptor that answered ("" when none did): the staff
    app's simulator shows it."""
    chain = interceptor_chain()
    for index, interceptor in enumerate(chain):
        reply = interceptor.intercept(ctx)
        if reply is None:
            continue
        if reply.restart:
            for gate in chain[index + 1 :]:
                if gate.gates_restart and (blocked := gate.intercept(ctx)) is not None:
                    return blocked, gate.path()
        return reply, interceptor.path()
    return None, ""
