"""Writes on bots and their flows: the one path the admin, the API and set-up commands take.

Everything that can be wrong with a bot or a step is refused here with a
django.core.exceptions.ValidationError keyed by field, so the admin shows it on the field and
the API answers 400 naming it:

* the provider must be registered (`chatbots.providers.registry.get_provider`);
* a step's handler must be registered and accept its config (`registry.validate_step`);
* the tenant's plan caps how many bots it may have (`chatbot_limit_check`);
* the provider server a bot names (`provider_config.base_url`) must be one the egress
  policy lets us call: https, a public address (`provider_urls_check`, config/egress.py).

Secrets (`SECRET_FIELDS`) are write-only for every caller above this module: an update with
an empty value keeps the stored one; `clear_secrets` is the explicit way to erase one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from billing import alerts, quotas
from billing.models import LimitKind, Tenant
from chatbots.models import Chatbot, Step
from config import egress

SECRET_FIELDS = ("access_token", "app_secret", "provider_secrets")
CHATBOT_FIELDS = frozenset(
    {
        "name",
        "provider",
        "display_number",
        "phone_number_id",
        "waba_id",
        "verify_token",
        "provider_config",
        "active",
        "messages_per_second",
        "language",
        "options",
        *SECRET_FIELDS,
    }
)
STEP_FIELDS = frozenset({"code", "handler_path", "order", "config", "active"})


# --- Plan limits ---------------------------------------------------------------------------


def chatbot_limit_check(*, tenant: Tenant, lock: bool = False) -> None:
    """Refuse one more bot when the tenant's plan is full (Plan.max_chatbots): the hook
    point for plan limits on bots (billing.quotas.seat_limit_check)."""
    quotas.seat_limit_check(tenant=tenant, kind=LimitKind.CHATBOTS, lock=lock)


# --- Chatbots ------------------------------------------------------------------------------


def _check_fields(fields: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unknown field(s): {', '.join(sorted(unknown))}")


def _check_provider(key: str) -> None:
    from chatbots.providers.registry import get_provider, provider_choices

    try:
        get_provider(key)
    except (LookupError, ValueError, ValidationError):
        known = ", ".join(k for k, _label in provider_choices())
        raise ValidationError(
            {
                "provider": _("Provedor desconhecido: '%(key)s'. Use um destes: %(known)s.")
                % {"key": key, "known": known}
            }
        ) from None


def provider_urls_check(*, provider_config: Any) -> None:
    """Refuse a `provider_config.base_url` the calls would refuse (config/egress.py), with
    a ValidationError on provider_config that names the key and the fix. Every provider's
    server URL is `base_url` (Evolution, Whaticket); Meta's is the operator's setting."""
    if not isinstance(provider_config, dict) or not provider_config.get("base_url"):
        return
    egress.tenant_url_validate(
        str(provider_config["base_url"]),
        field="provider_config",
        label=_("A URL do servidor do provedor (provider_config.base_url)"),
    )


def _provider_secrets_text(value: Any) -> str:
    """provider_secrets is stored as the JSON text of an object (a dict of secret values)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ValidationError(
            {
                "provider_secrets": _(
                    'Os segredos do provedor devem ser um objeto JSON, ex.: {"api_key": "..."}.'
                )
            }
        )
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {}


def _apply(chatbot: Chatbot, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "provider_secrets":
            value = _provider_secrets_text(value)
        elif name == "phone_number_id":
            # NULL, not "", for "no Meta number": the column is unique.
            value = (value or "").strip() or None
        elif name in ("provider_config", "options"):
            value = value or {}
        setattr(chatbot, name, value)


def _save_chatbot(chatbot: Chatbot) -> Chatbot:
    _check_provider(chatbot.provider)
    for name in ("provider_config", "options"):
        if not isinstance(getattr(chatbot, name), dict):
            raise ValidationError({name: _("Deve ser um objeto JSON.")})
    provider_urls_check(provider_config=chatbot.provider_config)
    chatbot.full_clean()
    chatbot.save()
    return chatbot


@transaction.atomic
def chatbot_create(*, tenant: Tenant, name: str, provider: str, **fields: Any) -> Chatbot:
    """Create a bot for `tenant`; refused beyond the plan's max_chatbots."""
    _check_fields(fields, CHATBOT_FIELDS)
    fields = {k: v for k, v in fields.items() if not (k in SECRET_FIELDS and _is_empty(v))}
    chatbot = Chatbot(tenant=tenant)
    _apply(chatbot, {"name": name, "provider": provider, **fields})
    chatbot_limit_check(tenant=tenant, lock=True)
    alerts.seats_check_on_commit(tenant_id=tenant.pk, kind=LimitKind.CHATBOTS)  # 80 %/100 %
    return _save_chatbot(chatbot)


@transaction.atomic
def chatbot_update(
    *, chatbot: Chatbot, clear_secrets: Iterable[str] = (), **fields: Any
) -> Chatbot:
    """Change a bot. An empty secret keeps the stored one; `clear_secrets` erases secrets."""
    _check_fields(fields, CHATBOT_FIELDS)
    clear = set(clear_secrets)
    if clear - set(SECRET_FIELDS):
        raise TypeError(f"not secret field(s): {', '.join(sorted(clear - set(SECRET_FIELDS)))}")
    fields = {k: v for k, v in fields.items() if not (k in SECRET_FIELDS and _is_empty(v))}
    _apply(chatbot, fields)
    for name in clear - set(fields):
        setattr(chatbot, name, "")
    return _save_chatbot(chatbot)


def chatbot_delete(*, chatbot: Chatbot) -> None:
    chatbot.delete()


# --- Steps ---------------------------------------------------------------------------------


def _save_step(step: Step) -> Step:
    from chatbots.handlers.registry import validate_step

    errors: dict[str, list] = {}
    if not isinstance(step.config, dict):
        errors["config"] = [_("A configuração deve ser um objeto JSON.")]
    else:
        try:
            validate_step(handler_path=step.handler_path, config=step.config)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    try:
        # Field checks only (slug, lengths); the duplicate code gets its own message below.
        step.full_clean(exclude=["chatbot", "tenant", "config"], validate_unique=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if (
        step.code
        and Step.objects.filter(chatbot_id=step.chatbot_id, code=step.code)
        .exclude(pk=step.pk)
        .exists()
    ):
        errors.setdefault("code", []).append(
            _("Já existe uma etapa com o código '%(code)s' neste chatbot.") % {"code": step.code}
        )
    if errors:
        raise ValidationError(errors)
    step.save()
    return step


def step_create(
    *,
    chatbot: Chatbot,
    code: str,
    handler_path: str,
    order: int,
    config: dict[str, Any],
    active: bool = True,
) -> Step:
    """Add a step to a bot's flow. The step belongs to the bot's tenant."""
    step = Step(
        chatbot=chatbot,
        tenant_id=chatbot.tenant_id,
        code=code,
        handler_path=handler_path,
        order=order,
        config=config if config is not None else {},
        active=active,
    )
    return _save_step(step)


def step_update(*, step: Step, **fields: Any) -> Step:
    """Change a step's code, handler, order, config or active flag (never its bot)."""
    _check_fields(fields, STEP_FIELDS)
    for name, value in fields.items():
        setattr(step, name, value)
    if step.config is None:
        step.config = {}
    return _save_step(step)


def step_delete(*, step: Step) -> None:
    step.delete()
