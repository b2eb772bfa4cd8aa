"""WhatsApp message templates as Meta defines them: the rules, the bodies, the preview.

A MessageTemplate row holds the definition (category, language, header, body with its
parameters and examples, footer, buttons). This module, with no I/O:

* `definition_problems(template)`: what Meta would refuse, checked before submitting
  (limits from Meta's template components page, Meta:
  https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components);
* `submit_body(template)`: the JSON of `POST /{waba-id}/message_templates` (and of the
  edit, `POST /{template-id}`);
* `fields_from_meta(data)`: a template as Meta lists it, back into the row's fields (sync);
* `fill(template, params=, header=, buttons=)`: the send's `components` and the text the
  customer reads, refusing a missing parameter (TemplateParamError) before Meta sees it
  (Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates);
* `preview(template)`: the message as the customer will see it, filled with the examples.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from chatbots.models import MessageTemplate

Category = MessageTemplate.Category
HeaderFormat = MessageTemplate.HeaderFormat
ParameterFormat = MessageTemplate.ParameterFormat

# Meta's limits (components page above).
NAME_MAX = 512
NAME_RE = re.compile(r"^[a-z0-9_]+$")  # lowercase letters, digits and underscores
HEADER_TEXT_MAX = 60
BODY_MAX = 1024
FOOTER_MAX = 60
BUTTONS_MAX = 10
BUTTON_TEXT_MAX = 25
URL_BUTTONS_MAX = 2
PHONE_BUTTONS_MAX = 1
COPY_CODE_BUTTONS_MAX = 1
URL_MAX = 2000
PHONE_MAX = 20
COPY_CODE_MAX = 15  # the coupon code of a copy-code button
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE")
MEDIA_HEADERS = (HeaderFormat.IMAGE, HeaderFormat.VIDEO, HeaderFormat.DOCUMENT)

PARAM_RE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
NAMED_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


class TemplateParamError(ValueError):
    """A send lacks a parameter the template needs (the text is pt-BR, for the admin)."""


# --- Parameters ------------------------------------------------------------------------------


def params_in(text: str) -> list[str]:
    """The parameter names of `text` in order of appearance, each once ("1", "nome")."""
    seen: list[str] = []
    for name in PARAM_RE.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def body_params(template: MessageTemplate) -> list[str]:
    """The body's parameters; for a template typed by hand without a body, "1".."n" of
    its param_count."""
    if template.category == Category.AUTHENTICATION:
        return ["1"]  # the one-time code, in Meta's own fixed body
    if not template.body_text:
        return [str(i) for i in range(1, template.param_count + 1)]
    return params_in(template.body_text)


def header_param(template: MessageTemplate) -> str:
    """The header text's one parameter, or ""."""
    if template.header_format != HeaderFormat.TEXT:
        return ""
    names = params_in(template.header_text)
    return names[0] if names else ""


def _buttons(template: MessageTemplate) -> list[dict]:
    return [b for b in (template.buttons or []) if isinstance(b, dict)]


def dynamic_buttons(template: MessageTemplate) -> list[tuple[int, dict]]:
    """(index, button) of the buttons that take a value at send time: a URL with a
    parameter, a copy code."""
    out = []
    for index, button in enumerate(_buttons(template)):
        kind = str(button.get("type") or "").upper()
        if (kind == "URL" and params_in(str(button.get("url") or ""))) or kind == "COPY_CODE":
            out.append((index, button))
    return out


# --- Checking a definition -------------------------------------------------------------------


def definition_problems(template: MessageTemplate) -> list[str]:
    """Everything Meta would refuse in this definition (pt-BR), empty when it may go."""
    problems: list[str] = []
    if len(template.name) > NAME_MAX or not NAME_RE.match(template.name or ""):
        problems.append(
            _("O nome só pode ter letras minúsculas, números e “_” (até 512), como pedido_saiu.")
        )
    if template.category not in Category.values:
        problems.append(_("Escolha a categoria: marketing, utilidade ou autenticação."))
    problems += _header_problems(template)
    if template.category == Category.AUTHENTICATION:
        problems += _authentication_problems(template)
        return problems
    problems += _body_problems(template)
    if template.footer_text:
        if len(template.footer_text) > FOOTER_MAX:
            problems.append(_("O rodapé passa de %(max)d caracteres.") % {"max": FOOTER_MAX})
        if params_in(template.footer_text):
            problems.append(_("O rodapé não pode ter parâmetros."))
    problems += _button_problems(template)
    return problems


def _header_problems(template: MessageTemplate) -> list[str]:
    fmt = template.header_format
    if fmt and fmt not in HeaderFormat.values:
        return [_("Tipo de cabeçalho desconhecido: %(fmt)s.") % {"fmt": fmt}]
    if fmt == HeaderFormat.TEXT:
        problems = []
        if not template.header_text.strip():
            problems.append(_("Escreva o texto do cabeçalho ou escolha “Sem cabeçalho”."))
        if len(template.header_text) > HEADER_TEXT_MAX:
            problems.append(
                _("O cabeçalho passa de %(max)d caracteres.") % {"max": HEADER_TEXT_MAX}
            )
        names = params_in(template.header_text)
        if len(names) > 1:
            problems.append(_("O cabeçalho de texto aceita no máximo um parâmetro."))
        if names and not template.header_example.strip():
            problems.append(_("Dê um exemplo para o parâmetro do cabeçalho."))
        return problems
    if fmt in MEDIA_HEADERS and not template.header_example.strip():
        return [
            _(
                "Cabeçalho de mídia: envie o arquivo de exemplo que a Meta analisa (ou "
                "informe o identificador, handle, de um já enviado)."
            )
        ]
    return []


def _body_problems(template: MessageTemplate) -> list[str]:
    text = template.body_text or ""
    if not text.strip():
        return [_("Escreva o corpo da mensagem.")]
    problems = []
    if len(text) > BODY_MAX:
        problems.append(_("O corpo passa de %(max)d caracteres.") % {"max": BODY_MAX})
    names = params_in(text)
    if template.parameter_format == ParameterFormat.NAMED:
        if bad := [n for n in names if not NAMED_RE.match(n)]:
            problems.append(
                _("Nomes de parâmetro só com letras minúsculas, números e “_”: %(bad)s.")
                % {"bad": ", ".join(bad)}
            )
    elif names and names != [str(i) for i in range(1, len(names) + 1)]:
        problems.append(
            _("Os parâmetros posicionais vão de {{1}} em diante, sem pular: %(found)s.")
            % {"found": ", ".join(f"{{{{{n}}}}}" for n in names)}
        )
    stripped = text.strip()
    # Meta refuses a body that starts or ends with a parameter, or two parameters side by
    # side ("INVALID_FORMAT" in its rejection reasons).
    if names and (PARAM_RE.match(stripped) or _ends_with_param(stripped)):
        problems.append(_("O corpo não pode começar nem terminar com um parâmetro."))
    if re.search(r"\}\}\s*\{\{", text):
        problems.append(_("Separe os parâmetros com texto: {{1}}{{2}} não é aceito."))
    missing = [n for n in names if not str(example_for(template, n)).strip()]
    if missing:
        problems.append(
            _("Dê um exemplo para cada parâmetro do corpo: falta %(names)s.")
            % {"names": ", ".join(missing)}
        )
    return problems


def _ends_with_param(text: str) -> bool:
    return bool(re.search(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}$", text))


def _authentication_problems(template: MessageTemplate) -> list[str]:
    problems = []
    if template.header_format:
        problems.append(_("Modelos de autenticação não têm cabeçalho."))
    kinds = [str(b.get("type") or "").upper() for b in _buttons(template)]
    if kinds != ["COPY_CODE"]:
        problems.append(
            _("Modelos de autenticação têm um único botão, “Copiar código” (COPY_CODE).")
        )
    return problems


def _button_problems(template: MessageTemplate) -> list[str]:
    buttons = _buttons(template)
    if len(buttons) != len(template.buttons or []):
        return [_("Cada botão deve ser um objeto com “type”.")]
    problems = []
    if len(buttons) > BUTTONS_MAX:
        problems.append(_("No máximo %(max)d botões.") % {"max": BUTTONS_MAX})
    kinds = [str(b.get("type") or "").upper() for b in buttons]
    if unknown := sorted({k for k in kinds if k not in BUTTON_TYPES}):
        problems.append(
            _(
                "Tipo de botão desconhecido: %(kinds)s (use QUICK_REPLY, URL, PHONE_NUMBER ou "
                "COPY_CODE)."
            )
            % {"kinds": ", ".join(unknown) or "?"}
        )
    for kind, limit in (
        ("URL", URL_BUTTONS_MAX),
        ("PHONE_NUMBER", PHONE_BUTTONS_MAX),
        ("COPY_CODE", COPY_CODE_BUTTONS_MAX),
    ):
        if kinds.count(kind) > limit:
            problems.append(
                _("No máximo %(max)d botão(ões) %(kind)s.") % {"max": limit, "kind": kind}
            )
    for button, kind in zip(buttons, kinds, strict=True):
        text = str(button.get("text") or "")
        if kind != "COPY_CODE" and not text.strip():
            problems.append(_("Todo botão %(kind)s precisa de um texto.") % {"kind": kind})
        if len(text) > BUTTON_TEXT_MAX:
            problems.append(
                _("O texto do botão “%(text)s” passa de %(max)d caracteres.")
                % {"text": text[:30], "max": BUTTON_TEXT_MAX}
            )
        if kind == "URL":
            problems += _url_button_problems(button)
        elif kind == "PHONE_NUMBER":
            phone = str(button.get("phone_number") or "")
            if not phone or len(phone) > PHONE_MAX:
                problems.append(_("O botão de telefone precisa do número (até 20 caracteres)."))
        elif kind == "COPY_CODE":
            code = str(button.get("example") or "")
            if not code or len(code) > COPY_CODE_MAX:
                problems.append(
                    _("O botão “Copiar código” precisa do código de exemplo (até 15 caracteres).")
                )
    return problems


def _url_button_problems(button: dict) -> list[str]:
    url = str(button.get("url") or "")
    problems = []
    if not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
        problems.append(_("O botão de link precisa de um endereço http(s) de até 2000 caracteres."))
    names = params_in(url)
    if len(names) > 1 or (names and not _ends_with_param(url)):
        problems.append(_("O link aceita um único parâmetro, no fim do endereço: …/{{1}}."))
    if names and not str(button.get("example") or "").strip():
        problems.append(_("Dê um exemplo para o parâmetro do link."))
    return problems


def example_for(template: MessageTemplate, name: str) -> str:
    examples = template.body_examples
    if isinstance(examples, Mapping):
        return str(examples.get(name) or "")
    if isinstance(examples, Sequence) and not isinstance(examples, str) and name.isdigit():
        index = int(name) - 1
        return str(examples[index]) if 0 <= index < len(examples) else ""
    return ""


# --- Submitting ---------------------------------------------------------------------------------


def submit_body(template: MessageTemplate) -> dict[str, Any]:
    """The body of `POST /{waba-id}/message_templates` for this definition."""
    body: dict[str, Any] = {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "components": components_for_submit(template),
    }
    if template.category != Category.AUTHENTICATION:
        body["parameter_format"] = template.parameter_format
    return body


def components_for_submit(template: MessageTemplate) -> list[dict[str, Any]]:
    if template.category == Category.AUTHENTICATION:
        # Meta writes the body of authentication templates itself (Meta:
        # https://developers.facebook.com/docs/whatsapp/business-management-api/authentication-templates).
        button = _buttons(template)[0] if _buttons(template) else {}
        return [
            {"type": "BODY", "add_security_recommendation": True},
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "OTP",
                        "otp_type": "COPY_CODE",
                        "text": str(button.get("text") or _("Copiar código")),
                    }
                ],
            },
        ]
    components: list[dict[str, Any]] = []
    fmt = template.header_format
    if fmt == HeaderFormat.TEXT:
        header: dict[str, Any] = {"type": "HEADER", "format": "TEXT", "text": template.header_text}
        if header_param(template):
            key = "header_text_named_params" if _named(template) else "header_text"
            header["example"] = {
                key: (
                    [{"param_name": header_param(template), "example": template.header_example}]
                    if _named(template)
                    else [template.header_example]
                )
            }
        components.append(header)
    elif fmt in MEDIA_HEADERS:
        components.append(
            {
                "type": "HEADER",
                "format": fmt,
                "example": {"header_handle": [template.header_example]},
            }
        )
    body: dict[str, Any] = {"type": "BODY", "text": template.body_text}
    names = params_in(template.body_text)
    if names:
        if _named(template):
            body["example"] = {
                "body_text_named_params": [
                    {"param_name": n, "example": example_for(template, n)} for n in names
                ]
            }
        else:
            body["example"] = {"body_text": [[example_for(template, n) for n in names]]}
    components.append(body)
    if template.footer_text:
        components.append({"type": "FOOTER", "text": template.footer_text})
    if buttons := _buttons(template):
        components.append({"type": "BUTTONS", "buttons": [_submit_button(b) for b in buttons]})
    return components


def _submit_button(button: dict) -> dict[str, Any]:
    kind = str(button.get("type") or "").upper()
    out: dict[str, Any] = {"type": kind}
    if kind != "COPY_CODE":
        out["text"] = str(button.get("text") or "")
    if kind == "URL":
        out["url"] = str(button.get("url") or "")
        if params_in(out["url"]):
            out["example"] = [str(button.get("example") or "")]
    elif kind == "PHONE_NUMBER":
        out["phone_number"] = str(button.get("phone_number") or "")
    elif kind == "COPY_CODE":
        out["example"] = str(button.get("example") or "")
    return out


def _named(template: MessageTemplate) -> bool:
    return template.parameter_format == ParameterFormat.NAMED


# --- Syncing -----------------------------------------------------------------------------------


def fields_from_meta(data: Mapping[str, Any]) -> dict[str, Any]:
    """MessageTemplate fields from one template as `GET /{waba-id}/message_templates`
    lists it (a template made in Meta's manager arrives here too)."""
    fields: dict[str, Any] = {
        "meta_id": str(data.get("id") or ""),
        "status": str(data.get("status") or "").upper(),
        "category": str(data.get("category") or Category.UTILITY).upper(),
        "parameter_format": str(data.get("parameter_format") or ParameterFormat.POSITIONAL).upper(),
        "header_format": "",
        "header_text": "",
        "footer_text": "",
        "body_text": "",
        "buttons": [],
    }
    quality = data.get("quality_score")
    if isinstance(quality, Mapping) and quality.get("score"):
        fields["quality_score"] = str(quality["score"]).upper()
    if data.get("rejected_reason") and str(data["rejected_reason"]).upper() != "NONE":
        fields["status_reason"] = str(data["rejected_reason"])
    for component in data.get("components") or []:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type") or "").upper()
        example = component.get("example") if isinstance(component.get("example"), Mapping) else {}
        if kind == "HEADER":
            fields["header_format"] = str(component.get("format") or "TEXT").upper()
            fields["header_text"] = str(component.get("text") or "")
            handle = example.get("header_handle") or example.get("header_text") or [""]
            fields["header_example"] = str(handle[0] if isinstance(handle, list) else handle)
        elif kind == "BODY":
            fields["body_text"] = str(component.get("text") or "")
            if example.get("body_text_named_params"):
                fields["body_examples"] = {
                    str(p.get("param_name")): str(p.get("example") or "")
                    for p in example["body_text_named_params"]
                    if isinstance(p, Mapping)
                }
            elif example.get("body_text"):
                rows = example["body_text"]
                fields["body_examples"] = [str(v) for v in (rows[0] if rows else [])]
        elif kind == "FOOTER":
            fields["footer_text"] = str(component.get("text") or "")
        elif kind == "BUTTONS":
            fields["buttons"] = [_button_from_meta(b) for b in component.get("buttons") or []]
    if fields["category"] == Category.AUTHENTICATION:
        fields["buttons"] = [
            {"type": "COPY_CODE", "text": b.get("text", ""), "example": "123456"}
            for b in fields["buttons"]
        ][:1]
    fields["param_count"] = len(params_in(fields["body_text"]))
    return fields


def _button_from_meta(button: Any) -> dict[str, Any]:
    button = button if isinstance(button, Mapping) else {}
    kind = str(button.get("type") or "").upper()
    out: dict[str, Any] = {"type": "COPY_CODE" if kind == "OTP" else kind}
    for key in ("text", "url", "phone_number"):
        if button.get(key):
            out[key] = str(button[key])
    example = button.get("example")
    if example:
        out["example"] = str(example[0] if isinstance(example, list) else example)
    return out


# --- Sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filled:
    """A template ready to send: Meta's `components` and the text the customer reads."""

    components: list[dict[str, Any]]
    text: str


def fill(
    template: MessageTemplate,
    *,
    params: Sequence[str] | Mapping[str, str] = (),
    header: str = "",
    buttons: Sequence[str] = (),
) -> Filled:
    """The send's components from the stored definition; TemplateParamError when a value
    the template needs is missing (Meta would answer 131008 or 132000 after the fact).

    `params` are the body's values, in order or by name (a list for a named template is
    taken in the order its names appear); `header` is the header text's value, or the
    media link (else the template's header_media_url); `buttons` are the values of the
    dynamic buttons (URL suffix, copy code) in order (a copy code defaults to its example).
    """
    names = body_params(template)
    values = _values(names, params)
    if missing := [n for n in names if not str(values.get(n, "")).strip()]:
        raise TemplateParamError(
            _("O modelo “%(name)s” precisa do(s) parâmetro(s) %(missing)s, que não veio(ram).")
            % {"name": template.name, "missing": ", ".join(f"{{{{{n}}}}}" for n in missing)}
        )
    named = _named(template) and template.category != Category.AUTHENTICATION
    components: list[dict[str, Any]] = []
    header_value = _header_component(template, header, named, components)
    if names:
        components.append(
            {
                "type": "body",
                "parameters": [_text_param(n, values[n], named) for n in names],
            }
        )
    button_values = list(buttons)
    for position, (index, button) in enumerate(dynamic_buttons(template)):
        kind = str(button.get("type") or "").upper()
        value = button_values[position] if position < len(button_values) else ""
        if kind == "COPY_CODE":
            value = value or str(button.get("example") or "")
            if template.category == Category.AUTHENTICATION:
                # The OTP button of an authentication template is sent as a URL button with
                # the code (Meta's authentication templates page).
                value = values["1"]
                components.append(_button("url", index, {"type": "text", "text": value}))
                continue
            components.append(
                _button("copy_code", index, {"type": "coupon_code", "coupon_code": value})
            )
            continue
        if not value.strip():
            raise TemplateParamError(
                _("O botão “%(text)s” do modelo “%(name)s” precisa do final do link.")
                % {"text": button.get("text", ""), "name": template.name}
            )
        components.append(_button("url", index, {"type": "text", "text": value}))
    return Filled(components=components, text=render(template, values, header_value))


def _values(names: list[str], params: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(params, Mapping):
        return {str(k): str(v) for k, v in params.items()}
    return {name: str(value) for name, value in zip(names, params, strict=False)}


def _text_param(name: str, value: str, named: bool) -> dict[str, Any]:
    param: dict[str, Any] = {"type": "text", "text": value}
    if named:
        param["parameter_name"] = name
    return param


def _button(sub_type: str, index: int, parameter: dict) -> dict[str, Any]:
    return {"type": "button", "sub_type": sub_type, "index": str(index), "parameters": [parameter]}


def _header_component(template: MessageTemplate, header: str, named: bool, components: list) -> str:
    fmt = template.header_format
    if fmt == HeaderFormat.TEXT and (name := header_param(template)):
        if not header.strip():
            raise TemplateParamError(
                _("O modelo “%(name)s” precisa do valor do cabeçalho.") % {"name": template.name}
            )
        components.append({"type": "header", "parameters": [_text_param(name, header, named)]})
        return header
    if fmt in MEDIA_HEADERS:
        link = header or template.header_media_url
        if not link:
            raise TemplateParamError(
                _("O modelo “%(name)s” tem cabeçalho de mídia: informe o endereço da mídia.")
                % {"name": template.name}
            )
        kind = str(fmt).lower()
        components.append({"type": "header", "parameters": [{"type": kind, kind: {"link": link}}]})
        return link
    return ""


# --- What the customer sees ---------------------------------------------------------------------


def render(template: MessageTemplate, values: Mapping[str, str], header: str = "") -> str:
    """The template's text with `values` in place: header, body, footer and the buttons'
    labels, as a text-only provider (Evolution, Whaticket) sends it."""
    if template.category == Category.AUTHENTICATION:
        code = values.get("1", "")
        return _("%(code)s é o seu código de verificação. Por segurança, não compartilhe.") % {
            "code": code
        }

    def sub(text: str, extra: Mapping[str, str]) -> str:
        return PARAM_RE.sub(lambda m: str(extra.get(m.group(1), m.group(0))), text or "")

    lines = []
    if template.header_format == HeaderFormat.TEXT:
        name = header_param(template)
        lines.append(sub(template.header_text, {name: header} if name else {}))
    elif template.header_format in MEDIA_HEADERS and header:
        lines.append(header)
    lines.append(sub(template.body_text, values))
    if template.footer_text:
        lines.append(template.footer_text)
    labels = [str(b.get("text") or _("Copiar código")) for b in _buttons(template)]
    lines += [f"[{label}]" for label in labels]
    return "\n".join(line for line in lines if line)


def preview(template: MessageTemplate) -> str:
    """The message as the customer will see it, filled with the template's examples."""
    names = body_params(template)
    values = {n: example_for(template, n) or f"{{{{{n}}}}}" for n in names}
    if template.category == Category.AUTHENTICATION:
        values = {"1": "123456"}
    header = template.header_example if header_param(template) else ""
    if template.header_format in MEDIA_HEADERS:
        header = template.header_media_url or f"[{template.get_header_format_display()}]"
    return render(template, values, header)
