"""A step's config as a form, built from its handler's `config_schema`
(chatbots.handlers.base.ConfigField), so an owner edits a flow without typing JSON.

The form only gathers values: `config()` turns them into the handler's config dict and the
handler's `validate_config` (through chatbots.bots.step_create/step_update) judges it. Its
messages name the key ("“text”", "options[2].title"); `place_errors` puts each one at the
field it names, the rest at the top of the form.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chatbots.handlers.base import ConfigField, Handler

OPTION_ROWS_MIN = 5  # empty rows offered for a menu's options, past the ones it has
OPTION_ROWS_MAX = 10  # a WhatsApp list holds 10 rows (chatbots.handlers.generic)
_OPTION_WHERE = re.compile(r"options\[(\d+)\]\.(\w+)")
_QUOTED_KEY = re.compile(r"[“\"](\w+)[”\"]")


def _name(key: str) -> str:
    """The form field of a config key; a nested key "flows.pedido" is "cfg_flows__pedido"."""
    return "cfg_" + key.replace(".", "__")


class StepForm(forms.Form):
    code = forms.SlugField(label=_("Código da etapa"), max_length=64)
    handler_path = forms.ChoiceField(label=_("Tipo de etapa"))

    def __init__(self, *args, handler: type[Handler] | None, step_codes: list[str], **kwargs):
        from chatbots.handlers.registry import handler_choices

        super().__init__(*args, **kwargs)
        self.fields["handler_path"].choices = handler_choices()
        self.handler = handler
        self.schema = handler.config_schema if handler is not None else None
        self.step_choices = [("", "—")] + [(c, c) for c in step_codes]
        self.option_rows = 0
        self.raw_json = self.schema is None
        if self.raw_json:
            self.fields["config_json"] = forms.JSONField(
                label=_("Configuração (JSON)"), required=False
            )
            return
        for spec in self.schema:
            if spec.kind == "options":
                self._add_option_rows(spec)
            else:
                self.fields[_name(spec.key)] = self._field(spec)

    def _field(self, spec: ConfigField, *, required: bool = False) -> forms.Field:
        common = {"label": spec.label, "help_text": spec.help, "required": required}
        if spec.kind == "textarea":
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), **common)
        if spec.kind == "step":
            return forms.ChoiceField(choices=self.step_choices, **common)
        if spec.kind == "choice":
            return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
        if spec.kind == "integer":
            return forms.IntegerField(**common)
        return forms.CharField(**common)

    def _add_option_rows(self, spec: ConfigField) -> None:
        existing = len((self.initial.get("config") or {}).get(spec.key) or [])
        if self.is_bound:
            existing = max(
                [int(m.group(1)) for k in self.data if (m := re.match(r"opt_(\d+)_", k))] or [0]
            )
        self.option_rows = min(OPTION_ROWS_MAX, max(OPTION_ROWS_MIN, existing + 2))
        for n in range(1, self.option_rows + 1):
            for item in spec.item_fields:
                self.fields[f"opt_{n}_{item.key}"] = self._field(item)

    @classmethod
    def initial_for(cls, code: str, handler_path: str, config: dict[str, Any]) -> dict:
        initial: dict[str, Any] = {"code": code, "handler_path": handler_path, "config": config}
        initial["config_json"] = config
        for key, value in config.items():
            if key == "options" and isinstance(value, list):
                for n, option in enumerate(value, 1):
                    for item_key, item_value in (option or {}).items():
                        initial[f"opt_{n}_{item_key}"] = item_value
            elif isinstance(value, dict):  # a nested key ("flows.pedido")
                for sub, sub_value in value.items():
                    initial[_name(f"{key}.{sub}")] = sub_value
            else:
                initial[f"cfg_{key}"] = value
        return initial

    def option_table(self) -> list[list[forms.BoundField]]:
        """The options' fields, one list per row (for the template)."""
        rows = []
        spec = next((s for s in self.schema or () if s.kind == "options"), None)
        for n in range(1, self.option_rows + 1):
            rows.append([self[f"opt_{n}_{item.key}"] for item in spec.item_fields])
        return rows

    def config(self) -> dict[str, Any]:
        data = self.cleaned_data
        if self.raw_json:
            return data.get("config_json") or {}
        config: dict[str, Any] = {}
        for spec in self.schema:
            if spec.kind == "options":
                options = []
                before = (self.initial.get("config") or {}).get(spec.key) or []
                shown = {item.key for item in spec.item_fields}
                for n in range(1, self.option_rows + 1):
                    row = {
                        item.key: data.get(f"opt_{n}_{item.key}") or "" for item in spec.item_fields
                    }
                    if any(row.values()):
                        option = {k: v for k, v in row.items() if v or k != "description"}
                        # Keys the form does not show (an option's "id") stay with its row.
                        old = before[n - 1] if n <= len(before) else {}
                        hidden = {k: v for k, v in old.items() if k not in shown}
                        options.append({**hidden, **option})
                config[spec.key] = options
                continue
            value = data.get(_name(spec.key))
            if value in (None, ""):
                continue
            if "." in spec.key:
                key, sub = spec.key.split(".", 1)
                config.setdefault(key, {})[sub] = value
            else:
                config[spec.key] = value
        return config

    def place_errors(self, exc: ValidationError) -> None:
        """Put the service's errors at the fields they name (see the module docstring)."""
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {"config": exc.messages}
        for name, messages in by_field.items():
            for message in messages:
                self.add_error(self._field_for(name, message), message)

    def _field_for(self, name: str, message: str) -> str | None:
        if name in ("code", "handler_path"):
            return name
        if self.raw_json:
            return "config_json"
        if match := _OPTION_WHERE.search(message):
            field = f"opt_{match.group(1)}_{match.group(2)}"
            if field in self.fields:
                return field
        if "options" in message and self.option_rows:
            return "opt_1_title"
        for key in _QUOTED_KEY.findall(message):
            if f"cfg_{key}" in self.fields:
                return f"cfg_{key}"
        return None
