"""The one registry of step handlers.

A Step names its handler by dotted class path. A path is usable only if it is registered
here with @register, which happens when its module is imported; `load_modules()` imports
the built-in handler modules plus the ones in `settings.CHATBOT_HANDLER_MODULES`. Anything
else fails loudly: at save time (`validate_step`, used by the admin, the API and
bind_tenant) and at start-up (the system checks in `chatbots.checks`). There is no fallback
handler.

A path typed by a user is never imported to find out what it is: importing runs a module's
code, and step paths come from tenant staff through the admin and the API. Registered
handlers live in modules `load_modules()` already imported, so inspecting `sys.modules` and
finding (not executing) module files is enough to tell the user what is wrong.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import logging
import re
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils.translation import gettext as _

from chatbots.handlers.base import Handler

logger = logging.getLogger(__name__)

#: Handler modules of the product itself; later modules (pedidos, agenda, ia) append here.
BUILTIN_HANDLER_MODULES: list[str] = [
    "chatbots.handlers.generic",
    "chatbots.handlers.pedidos",
    "chatbots.handlers.agenda",
    "chatbots.handlers.assistant",
]

_registry: dict[str, type[Handler]] = {}
_loaded_modules: set[str] = set()
_lock = threading.Lock()
_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


class HandlerNotFound(LookupError):
    """A step's handler path cannot be used; the message (pt-BR) names the path and the fix.

    `reason` is one of "import", "not_handler", "not_registered".
    """

    def __init__(self, path: str, reason: str, message: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


def register(cls: type[Handler]) -> type[Handler]:
    """Class decorator: make `cls` usable as a step handler under `cls.path()`."""
    if not (isinstance(cls, type) and issubclass(cls, Handler)):
        raise TypeError(f"@register expects a Handler subclass, got {cls!r}")
    # Re-registering the same path replaces the class: that is what a module reload does.
    _registry[cls.path()] = cls
    return cls


def handler_modules() -> list[str]:
    """Every module that holds handlers: the built-in ones, then CHATBOT_HANDLER_MODULES."""
    configured = list(getattr(settings, "CHATBOT_HANDLER_MODULES", None) or [])
    return list(dict.fromkeys(BUILTIN_HANDLER_MODULES + configured))


def load_modules() -> None:
    """Import every handler module once, so their @register decorators run.

    An import error is raised as ImproperlyConfigured naming the module: a configured module
    that does not import is a deployment error, not something to run without.
    """
    for name in handler_modules():
        if name in _loaded_modules:
            continue
        with _lock:
            if name in _loaded_modules:
                continue
            try:
                importlib.import_module(name)
            except Exception as exc:
                raise ImproperlyConfigured(
                    f"Handler module {name!r} (BUILTIN_HANDLER_MODULES or "
                    f"CHATBOT_HANDLER_MODULES) failed to import: {exc!r}"
                ) from exc
            _loaded_modules.add(name)


def load_handler(path: str) -> type[Handler]:
    """Return the handler class registered under `path`, or raise HandlerNotFound."""
    load_modules()
    try:
        return _registry[path]
    except (KeyError, TypeError):
        pass
    raise _diagnose(path)


def _diagnose(path: str) -> HandlerNotFound:
    def not_found(reason: str, why: str) -> HandlerNotFound:
        message = _("O handler “%(path)s” não pode ser usado: %(why)s.") % {
            "path": path,
            "why": why,
        }
        return HandlerNotFound(str(path), reason, message)

    if not isinstance(path, str) or not _PATH.match(path):
        return not_found(
            "import",
            _("não importa (informe o caminho completo da classe, como “%(example)s”)")
            % {"example": "chatbots.handlers.generic.MenuHandler"},
        )
    module_name, _dot, attr = path.rpartition(".")
    module = sys.modules.get(module_name)
    if module is None:
        if not _module_exists(module_name):
            return not_found(
                "import",
                _("não importa (o módulo “%(module)s” não existe)") % {"module": module_name},
            )
        # The module exists but was never loaded, so nothing in it is registered.
        return not_found("not_registered", _not_registered_why(module_name))
    obj = getattr(module, attr, None)
    if obj is None:
        return not_found(
            "import",
            _("não importa (o módulo “%(module)s” não tem “%(name)s”)")
            % {"module": module_name, "name": attr},
        )
    if not (isinstance(obj, type) and issubclass(obj, Handler)):
        return not_found("not_handler", _("não é uma subclasse de Handler"))
    return not_found("not_registered", _not_registered_why(module_name))


def _not_registered_why(module_name: str) -> str:
    return _(
        "não está registrado (decore a classe com @register e adicione o módulo “%(module)s” "
        "a CHATBOT_HANDLER_MODULES)"
    ) % {"module": module_name}


def _module_exists(dotted: str) -> bool:
    """Find a module's file without running it (nor its packages' __init__)."""
    search_path = None
    spec = None
    parts = dotted.split(".")
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        loaded = sys.modules.get(name)
        if loaded is not None:
            search_path = getattr(loaded, "__path__", None)
            spec = getattr(loaded, "__spec__", None)
            if search_path is None and i < len(parts) - 1:
                return False  # a plain module has no submodules
            continue
        try:
            spec = importlib.machinery.PathFinder.find_spec(name, search_path)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        search_path = spec.submodule_search_locations
        if search_path is None and i < len(parts) - 1:
            return False
    return spec is not None


def registered_handlers() -> dict[str, type[Handler]]:
    """A copy of the registry (path -> class), after loading every handler module."""
    load_modules()
    return dict(_registry)


def handler_choices() -> list[tuple[str, str]]:
    """(path, label) of every registered handler, sorted by label, for the admin dropdown."""
    choices = [
        (path, str(cls.label or cls.__name__)) for path, cls in registered_handlers().items()
    ]
    return sorted(choices, key=lambda choice: (choice[1].casefold(), choice[0]))


def validate_step(*, handler_path: str, config: dict[str, Any]) -> None:
    """Refuse a step that cannot run: ValidationError keyed "handler_path" or "config".

    Called when a step is saved (admin form, API serializer, bind_tenant).
    """
    try:
        handler = load_handler(handler_path)
    except HandlerNotFound as exc:
        raise ValidationError({"handler_path": [str(exc)]}, code="invalid_handler")
    errors = config_errors(handler, config)
    if errors:
        raise ValidationError({"config": errors}, code="invalid_config")


def config_errors(handler: type[Handler], config: Any) -> list[str]:
    """The messages `handler.validate_config` has against `config` (empty when it is fine)."""
    if not isinstance(config, dict):
        return [_("A configuração deve ser um objeto JSON, por exemplo {}.")]
    try:
        handler.validate_config(config)
    except ValidationError as exc:
        return list(exc.messages)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # A handler that trips over a config cannot run with it either: refuse, and log
        # the handler's bug for us.
        logger.warning("validate_config of %s raised %r", handler.path(), exc)
        return [_("A configuração não pôde ser validada: %(error)s") % {"error": exc}]
    return []


def validate_flow(steps: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Problems of a whole flow, given its (active) steps as (code, handler_path, config).

    Checks what a single step cannot: duplicate codes and `next` codes (from each
    handler's `referenced_steps`) that name no step of this flow. Each step's handler and
    config are checked too. Returns pt-BR messages; empty when the flow can run.
    """
    problems: list[str] = []
    codes = [code for code, _path, _config in steps]
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            problems.append(
                _("O código de etapa “%(code)s” aparece mais de uma vez.") % {"code": code}
            )
        seen.add(code)
    for code, handler_path, config in steps:
        try:
            handler = load_handler(handler_path)
        except HandlerNotFound as exc:
            problems.append(_("Etapa “%(code)s”: %(error)s") % {"code": code, "error": exc})
            continue
        errors = config_errors(handler, config)
        if errors:
            problems.extend(
                _("Etapa “%(code)s”: %(error)s") % {"code": code, "error": error}
                for error in errors
            )
            continue
        for ref in dict.fromkeys(handler.referenced_steps(config)):
            if ref not in seen:
                problems.append(
                    _(
                        "Etapa “%(code)s”: aponta para a etapa “%(ref)s”, que não existe neste "
                        "fluxo (ou está inativa). Crie essa etapa ou corrija o código."
                    )
                    % {"code": code, "ref": ref}
                )
    return problems
