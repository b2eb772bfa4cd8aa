"""Start-up checks of the flows: fail before serving when a saved step cannot run.

* chatbots.E002 (every command): a handler module (built-in or listed in
  CHATBOT_HANDLER_MODULES) does not import.
* chatbots.E003 (every command): an entry of CHATBOT_INTERCEPTORS does not import.
* chatbots.E004 (every command): an entry of CHATBOT_INTERCEPTORS is not an Interceptor
  subclass (chatbots.interceptors.base).
* chatbots.E001 (database checks): an active step of an active bot names a handler that does
  not load (does not import, is not a Handler, or is not registered).
* chatbots.W001 (database checks): such a step's config is refused by its handler.
* chatbots.W002 (database checks): such a step moves to a step code the bot does not have.

When the database ones run: Django passes `databases` to checks only for `migrate`,
`check --database default` and the test runner; `runserver` and gunicorn pass none (and
gunicorn runs no checks at all). The product's start-up runs `migrate` before gunicorn, so
a broken step stops the deploy there, with the message below; `manage.py check --database
default` runs the same checks on demand. At run time the engine refuses a step whose handler
does not load (HandlerNotFound), so a step broken after start-up never falls back silently.

`migrate --skip-checks` is the escape hatch when a migration is what fixes the steps.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, router, transaction

from chatbots.handlers.registry import (
    HandlerNotFound,
    config_errors,
    handler_modules,
    load_handler,
    load_modules,
)
from chatbots.interceptors.registry import (
    InterceptorNotFound,
    interceptor_paths,
    load_interceptor,
)

CHECK_TAG = "chatbots"


@checks.register(CHECK_TAG)
def check_handler_modules(app_configs=None, **kwargs: Any) -> list[checks.CheckMessage]:
    """chatbots.E002: every handler module (built-in or in CHATBOT_HANDLER_MODULES) imports."""
    errors: list[checks.CheckMessage] = []
    for name in handler_modules():
        try:
            importlib.import_module(name)
        except Exception as exc:
            errors.append(
                checks.Error(
                    f"Handler module {name!r} does not import: {exc!r}",
                    hint=(
                        "Fix the module, or remove it from the CHATBOT_HANDLER_MODULES "
                        "environment variable (comma-separated dotted module paths)."
                    ),
                    id="chatbots.E002",
                )
            )
    return errors


@checks.register(CHECK_TAG)
def check_interceptors(app_configs=None, **kwargs: Any) -> list[checks.CheckMessage]:
    """chatbots.E003/E004: every entry of CHATBOT_INTERCEPTORS imports and is an Interceptor."""
    errors: list[checks.CheckMessage] = []
    for path in interceptor_paths():
        try:
            load_interceptor(path)
        except InterceptorNotFound as exc:
            if exc.reason == "import":
                hint = (
                    "Fix the module, or correct the dotted class path in CHATBOT_INTERCEPTORS "
                    "(config/settings.py)."
                )
                check_id = "chatbots.E003"
            else:
                hint = (
                    "Make the class a subclass of chatbots.interceptors.base.Interceptor with "
                    "an intercept(ctx) method, or remove it from CHATBOT_INTERCEPTORS."
                )
                check_id = "chatbots.E004"
            errors.append(checks.Error(str(exc), hint=hint, id=check_id))
    return errors


@checks.register(checks.Tags.database, CHECK_TAG)
def check_step_handlers(
    app_configs=None, databases: list[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """chatbots.E001/W001/W002 for every database Django asks to check (none: skipped)."""
    problems: list[checks.CheckMessage] = []
    for alias in databases or []:
        problems.extend(step_handler_problems(using=alias))
    return problems


def step_handler_problems(*, using: str = "default") -> list[checks.CheckMessage]:
    """What stops the saved flows in database `using` from running (see the module doc).

    Returns [] when the tables do not exist yet (a fresh database before `migrate`).
    """
    from chatbots.models import Step

    if not router.allow_migrate_model(using, Step):
        return []
    try:
        load_modules()
    except ImproperlyConfigured:
        return []  # chatbots.E002 names the module that does not import
    try:
        # A savepoint, so a missing table does not break an enclosing transaction.
        with transaction.atomic(using=using):
            steps = list(
                Step.objects.using(using)
                .filter(active=True, chatbot__active=True)
                .select_related("chatbot")
                .only("code", "handler_path", "config", "tenant_id", "chatbot", "chatbot__name")
                .order_by("chatbot_id", "order", "id")
            )
    except DatabaseError:  # ProgrammingError/OperationalError: not migrated yet
        return []

    problems: list[checks.CheckMessage] = []
    codes: dict[int, set[str]] = defaultdict(set)
    for step in steps:
        codes[step.chatbot_id].add(step.code)
    for step in steps:
        where = (
            f"Step {step.code!r} (id {step.pk}) of chatbot {step.chatbot.name!r} "
            f"(id {step.chatbot_id}, tenant {step.tenant_id})"
        )
        try:
            handler = load_handler(step.handler_path)
        except HandlerNotFound as exc:
            problems.append(
                checks.Error(
                    f"{where} names handler {step.handler_path!r}, which cannot run: {exc}",
                    hint=(
                        "Pick a registered handler for the step in the admin (Chatbots > "
                        "Etapas) or deactivate it; if the handler lives in your own module, "
                        "add that module to CHATBOT_HANDLER_MODULES."
                    ),
                    obj=step,
                    id="chatbots.E001",
                )
            )
            continue
        errors = config_errors(handler, step.config)
        if errors:
            problems.append(
                checks.Warning(
                    f"{where}: its config is refused by {step.handler_path}: " + " ".join(errors),
                    hint="Fix the step's config in the admin; the handler's help lists its keys.",
                    obj=step,
                    id="chatbots.W001",
                )
            )
            continue
        missing = [
            c for c in handler.referenced_steps(step.config) if c not in codes[step.chatbot_id]
        ]
        if missing:
            problems.append(
                checks.Warning(
                    f"{where} moves to step(s) {', '.join(map(repr, missing))}, which the bot "
                    "does not have (or are inactive); a customer who gets there is stuck.",
                    hint="Create or activate those steps, or change the step's config.",
                    obj=step,
                    id="chatbots.W002",
                )
            )
    return problems
