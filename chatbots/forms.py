"""Admin forms for bots and steps: registry dropdowns and write-only secrets."""

from __future__ import annotations

import json
from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.admin_tenancy import TenantConsistencyForm
from chatbots import bots
from chatbots.models import Chatbot, Step

# Returned by the secret widget when its "apagar" box is ticked (an empty input means "keep").
CLEAR = object()

Choices = list[tuple[str, str]]


def _handler_choices() -> Choices:
    from chatbots.handlers.registry import handler_choices

    return list(handler_choices())


def _provider_choices() -> Choices:
    from chatbots.providers.registry import provider_choices

    return list(provider_choices())


def handler_help() -> list[dict[str, str]]:
    """Each registered handler with its label and what its config takes, for the admin."""
    from chatbots.handlers.registry import registered_handlers

    handlers = registered_handlers()
    return [
        {"path": path, "label": label, "config_help": str(handlers[path].config_help or "")}
        for path, label in _handler_choices()
    ]


class WriteOnlySecretWidget(forms.PasswordInput):
    """A password input that never renders the stored value, only whether there is one.

    `is_set` is filled by the form from the saved row (not from posted data), so a form
    re-shown with errors still tells the truth about what is stored.
    """

    is_set = False

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})})
        self.render_value = False

    def clear_name(self, name: str) -> str:
        return f"{name}__clear"

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, None, attrs, renderer)
        if not self.is_set:
            return format_html(
                '{} <span class="secret-status secret-unset">{}</span>', html, _("não definido")
            )
        return format_html(
            '{} <span class="secret-status secret-set">{}</span> '
            '<label><input type="checkbox" name="{}"> {}</label>'
            '<div class="help">{}</div>',
            html,
            _("definido"),
            self.clear_name(name),
            _("apagar o valor atual"),
            _("Deixe em branco para manter o valor atual."),
        )

    def value_from_datadict(self, data, files, name):
        if data.get(self.clear_name(name)):
            return CLEAR
        return data.get(name)


class SecretField(forms.CharField):
    widget = WriteOnlySecretWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value is CLEAR:
            return CLEAR
        return super().to_python(value)

    def has_changed(self, initial, data) -> bool:
        # The stored value is never sent back, so an empty input is "unchanged".
        return data is CLEAR or bool(data)


class RegistryChoiceField(forms.ChoiceField):
    """A dropdown of a registry's entries.

    A stored value the registry no longer knows is still listed (marked "não registrado")
    so the form shows the truth instead of silently selecting another entry; saving it is
    refused, by `valid_value` here or, with `check=False`, by the service's own validation
    (which explains why, e.g. a handler that does not import).
    """

    def __init__(self, *, registry: Callable[[], Choices], check: bool = True, **kwargs):
        self.registry = registry
        self.check = check
        super().__init__(choices=lambda: [("", "---------"), *registry()], **kwargs)

    def show_current(self, value: str) -> None:
        if value and value not in {k for k, _label in self.choices}:
            self.choices = [
                *self.choices,
                (value, _("%(value)s (não registrado)") % {"value": value}),
            ]

    def valid_value(self, value) -> bool:
        if not self.check:
            return True
        return value in {k for k, _label in self.registry()}


class ChatbotAdminForm(TenantConsistencyForm):
    provider = RegistryChoiceField(
        registry=_provider_choices,
        label=gettext_lazy("provedor"),
        help_text=Chatbot._meta.get_field("provider").help_text,
        error_messages={
            "invalid_choice": gettext_lazy(
                "O provedor '%(value)s' não está registrado. Escolha um da lista."
            )
        },
    )
    access_token = SecretField(label=gettext_lazy("token de acesso"))
    app_secret = SecretField(label=gettext_lazy("app secret"))
    provider_secrets = SecretField(
        label=gettext_lazy("segredos do provedor"),
        help_text=gettext_lazy(
            'Objeto JSON. Whaticket: {"token": "...", "shared_secret": "..."}; Evolution: '
            '{"apikey": "...", "webhook_secret": "..."} (+ "jwt_key" opcional).'
        ),
    )

    class Meta:
        model = Chatbot
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "provider" in self.fields:
            self.fields["provider"].show_current(self.instance.provider)
        for name in bots.SECRET_FIELDS:
            if name in self.fields:
                self.fields[name].widget.is_set = bool(getattr(self.instance, name, ""))
        self.secret_changes: dict[str, str] = {}
        self.secrets_to_clear: list[str] = []

    def clean_provider_secrets(self):
        value = self.cleaned_data.get("provider_secrets")
        if value and value is not CLEAR:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise ValidationError(
                    _('Os segredos do provedor devem ser um objeto JSON, ex.: {"api_key": "..."}.')
                )
        return value

    def clean(self):
        cleaned = super().clean()
        # Secrets leave cleaned_data so the model instance never receives "" for "keep".
        for name in bots.SECRET_FIELDS:
            value = cleaned.pop(name, None)
            if value is CLEAR:
                self.secrets_to_clear.append(name)
            elif value:
                self.secret_changes[name] = value
        tenant = cleaned.get("tenant")
        if self.instance._state.adding and tenant is not None:
            bots.chatbot_limit_check(tenant=tenant)
        if "provider_config" in cleaned:
            try:
                bots.provider_urls_check(provider_config=cleaned["provider_config"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class StepInlineForm(forms.ModelForm):
    handler_path = RegistryChoiceField(
        registry=_handler_choices,
        check=False,  # validate_step names the path and says why it is refused
        label=gettext_lazy("handler"),
        help_text=gettext_lazy("O que a etapa faz. A configuração de cada um está listada abaixo."),
    )

    class Meta:
        model = Step
        fields = ["order", "code", "handler_path", "config", "active"]
        widgets = {"config": forms.Textarea(attrs={"rows": 3, "cols": 48})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handler_path"].show_current(self.instance.handler_path)

    def clean(self):
        cleaned = super().clean()
        path = cleaned.get("handler_path")
        config = cleaned.get("config")
        if path and "config" not in self.errors:
            from chatbots.handlers.registry import validate_step

            try:
                validate_step(handler_path=path, config=config if config is not None else {})
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.error_dict.items():
                        self.add_error(field if field in self.fields else None, errors)
                else:
                    self.add_error("handler_path", exc)
        return cleaned
