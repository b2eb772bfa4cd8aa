"""Handlers configured without code: their texts and options come from the step's JSON config.

Every config is checked by `validate_config` when the step is saved; the messages (pt-BR)
name the key and say how to fix it. WhatsApp's limits are checked there too, so a menu that
WhatsApp would refuse is never saved (titles are refused, never cut).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chatbots import wire as wa
from chatbots.handlers import schemas
from chatbots.handlers.base import Context, Handler, Reply
from chatbots.handlers.kit import ConfigErrors
from chatbots.handlers.registry import register
from chatbots.text import match_option, normalize
from clientes.phones import InvalidPhone, normalize_phone

REGEX_MAX = 500  # a pattern is compiled and run on every answer: keep it a pattern, not a program
ANSWER_MAX_FOR_REGEX = 1000  # bounds the work a pathological pattern can do on one answer


def _step_code_or_empty(ctx: Context) -> str:
    return ctx.step.code if ctx.step is not None else ""


# --- Menu --------------------------------------------------------------------------------

DEFAULT_LIST_BUTTON = gettext_lazy("Ver opções")


def _menu_options(config: dict[str, Any], step_code: str = "") -> list[dict[str, str]]:
    """The configured options with the reply id each one is sent with.

    An option without an "id" gets "<step code>.<number>": ids of different menus never
    collide, so tapping an old menu's button falls back to matching its title instead of
    choosing whatever sits at the same position in the current menu.
    """
    options = []
    for number, option in enumerate(config.get("options") or [], 1):
        options.append(
            {
                "id": str(option.get("id") or (f"{step_code}.{number}" if step_code else number)),
                "title": option.get("title", ""),
                "description": option.get("description") or "",
                "next": option.get("next", ""),
            }
        )
    return options


def _menu_layout(options: list[dict[str, Any]]) -> str:
    """How a menu is sent: reply buttons, a list, or numbered text.

    Reply buttons hold 3 options and cannot show a description; a list holds 10 rows
    (Meta docs, messages/interactive-list-messages); beyond that only text holds them all.
    """
    if len(options) <= wa.BUTTONS_MAX and not any(o.get("description") for o in options):
        return "buttons"
    if len(options) <= wa.LIST_ROWS_MAX:
        return "list"
    return "text"


def _render_menu(config: dict[str, Any], step_code: str = "") -> wa.Outbound:
    options = _menu_options(config, step_code)
    text = config["text"]
    layout = _menu_layout(options)
    if layout == "buttons":
        return wa.Buttons(
            body=text, buttons=[wa.Button(id=o["id"], title=o["title"]) for o in options]
        )
    if layout == "list":
        rows = [wa.Row(id=o["id"], title=o["title"], description=o["description"]) for o in options]
        return wa.ListMessage(
            body=text,
            button=config.get("button") or str(DEFAULT_LIST_BUTTON),
            sections=[wa.Section(title="", rows=rows)],
        )
    lines = [
        f"{n}. {o['title']}" + (f" – {o['description']}" if o["description"] else "")
        for n, o in enumerate(options, 1)
    ]
    return wa.Text(body=text + "\n\n" + "\n".join(lines))


@register
class MenuHandler(Handler):
    label = gettext_lazy("Menu de opções")
    config_help = gettext_lazy(
        'Chaves: "text" (a pergunta), "options" (lista de opções, cada uma com "title", '
        '"next" = código da etapa seguinte, e opcionais "id" e "description"), '
        'opcionais "button" (rótulo do botão da lista, padrão “Ver opções”), '
        '"invalid_text" (resposta quando o cliente não escolhe uma opção) e "save_as" '
        "(nome em que a escolha fica guardada). Até 3 opções viram botões (título até 20 "
        "caracteres), até 10 viram lista (título até 24, descrição até 72), mais de 10 viram "
        'texto numerado. Exemplo: {"text": "O que você deseja?", "options": '
        '[{"title": "Fazer pedido", "next": "pedido"}, '
        '{"title": "Falar com atendente", "next": "atendente"}]}'
    )
    config_schema = schemas.MENU
    KEYS = ("text", "options", "button", "invalid_text", "save_as")
    OPTION_KEYS = ("id", "title", "description", "next")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = ConfigErrors(config)
        errors.only_keys(cls.KEYS)
        raw_options = errors.config.get("options")
        if not isinstance(raw_options, list) or not raw_options:
            errors.add(
                _(
                    "“options” deve ser uma lista com pelo menos uma opção, por exemplo "
                    '[{"title": "Pedidos", "next": "pedidos"}].'
                )
            )
            raw_options = []
        options = [o for o in raw_options if isinstance(o, dict)]
        if len(options) != len(raw_options):
            errors.add(_("Cada item de “options” deve ser um objeto com “title” e “next”."))
        layout = _menu_layout(options)
        title_max, title_where = {
            "buttons": (wa.BUTTON_TITLE_MAX, _("em botões (até 3 opções sem descrição)")),
            "list": (wa.LIST_ROW_TITLE_MAX, _("em listas (até 10 opções)")),
            "text": (wa.TEXT_MAX, ""),
        }[layout]
        body_max = wa.TEXT_MAX if layout == "text" else wa.INTERACTIVE_BODY_MAX
        errors.text("text", limit=body_max)
        errors.text("button", limit=wa.LIST_BUTTON_MAX, required=False)
        errors.text("invalid_text", limit=wa.TEXT_MAX, required=False)
        errors.state_key("save_as", required=False)

        seen_titles: dict[str, int] = {}
        seen_ids: dict[str, int] = {}
        for n, option in enumerate(options, 1):
            where = f"options[{n}]"
            for key in option:
                if key not in cls.OPTION_KEYS:
                    errors.add(
                        _("%(where)s: chave desconhecida “%(key)s”. Use %(allowed)s.")
                        % {"where": where, "key": key, "allowed": ", ".join(cls.OPTION_KEYS)}
                    )
            title = option.get("title")
            if title is None or (isinstance(title, str) and not title.strip()):
                errors.add(
                    _("%(where)s.title: o título da opção não pode ficar em branco.")
                    % {"where": where}
                )
            elif not isinstance(title, str):
                errors.add(_("%(where)s.title deve ser um texto.") % {"where": where})
            elif len(title) > title_max:
                errors.add(
                    _(
                        "%(where)s.title “%(title)s” tem %(length)s caracteres; o WhatsApp "
                        "aceita no máximo %(limit)s %(layout)s. Encurte o título."
                    )
                    % {
                        "where": where,
                        "title": title,
                        "length": len(title),
                        "limit": title_max,
                        "layout": title_where,
                    }
                )
            else:
                key = normalize(title)
                if key in seen_titles:
                    errors.add(
                        _(
                            "%(where)s.title “%(title)s” repete o título da opção %(other)s; "
                            "os títulos devem ser diferentes."
                        )
                        % {"where": where, "title": title, "other": seen_titles[key]}
                    )
                seen_titles.setdefault(key, n)
            if "id" in option:
                option_id = errors.text(
                    "id", limit=wa.LIST_ROW_ID_MAX, where=f"{where}.id", value=option["id"]
                )
                if option_id in seen_ids:
                    errors.add(
                        _("%(where)s.id “%(id)s” repete o id da opção %(other)s.")
                        % {"where": where, "id": option_id, "other": seen_ids[option_id]}
                    )
                if option_id:
                    seen_ids.setdefault(option_id, n)
            if option.get("description") is not None:
                errors.text(
                    "description",
                    limit=wa.LIST_ROW_DESCRIPTION_MAX if layout != "text" else wa.TEXT_MAX,
                    required=False,
                    where=f"{where}.description",
                    value=option["description"],
                )
            errors.step_code("next", required=True, where=f"{where}.next", value=option.get("next"))
        errors.raise_if_any()
        # Last line of defence: whatever we check above, WhatsApp's limits as enforced by
        # the message types must hold for the rendered menu (e.g. the numbered text's length).
        try:
            _render_menu(config, step_code="x" * 64)
        except wa.MessageLimitError as exc:
            raise ValidationError(
                _("O menu não cabe numa mensagem do WhatsApp: %(error)s. Encurte os textos.")
                % {"error": exc}
            )

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        return [o["next"] for o in config.get("options") or [] if o.get("next")]

    def enter(self, ctx: Context) -> Reply:
        return Reply(messages=[_render_menu(ctx.config, _step_code_or_empty(ctx))])

    def handle(self, ctx: Context) -> Reply:
        options = _menu_options(ctx.config, _step_code_or_empty(ctx))
        choice = match_option(ctx.text, options, reply_id=ctx.reply_id)
        if choice is None:
            invalid = ctx.config.get("invalid_text") or _(
                "Não entendi. Escolha uma das opções abaixo, tocando nela ou enviando o número."
            )
            reply = self.enter(ctx)
            reply.messages.insert(0, wa.Text(body=invalid))
            reply.not_understood = True
            return reply
        state = {"last_choice": choice["title"], "last_choice_id": choice["id"]}
        if ctx.config.get("save_as"):
            state[ctx.config["save_as"]] = choice["title"]
        return Reply(next_step=choice["next"], state=state)


# --- Message -----------------------------------------------------------------------------


@register
class MessageHandler(Handler):
    label = gettext_lazy("Mensagem (diz e segue)")
    config_help = gettext_lazy(
        'Chaves: "text" (o que o robô diz) e, opcional, "next" (código da etapa seguinte, '
        'que começa logo em seguida). Sem "next", o robô repete o texto a cada mensagem. '
        'Exemplo: {"text": "Nosso horário é de 8h às 18h.", "next": "menu"}'
    )
    config_schema = schemas.MESSAGE
    KEYS = ("text", "next")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = ConfigErrors(config)
        errors.only_keys(cls.KEYS)
        errors.text("text", limit=wa.TEXT_MAX)
        errors.step_code("next", required=False)
        errors.raise_if_any()

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        return [config["next"]] if config.get("next") else []

    def enter(self, ctx: Context) -> Reply:
        return Reply(
            messages=[wa.Text(body=ctx.config["text"])], next_step=ctx.config.get("next") or None
        )

    def handle(self, ctx: Context) -> Reply:
        # A message that stays expects no answer: whatever is typed here is free text it did
        # not expect (a question is answered, the way out named; chatbots.interceptors
        # .understanding), and the text is said again.
        reply = self.enter(ctx)
        reply.not_understood = True
        return reply


# --- Question ----------------------------------------------------------------------------


class InvalidAnswer(ValueError):
    """The answer does not fit; `message` (pt-BR) replaces the type's default error."""

    def __init__(self, value: str, message: str = ""):
        super().__init__(value)
        self.message = message


_INTEGER = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$|^[+-]?\d+$")
_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")


def _parse_decimal(text: str) -> Decimal:
    """Brazilian first: "1.234,56" and "12,5"; "12.5" is accepted too."""
    raw = text.replace(" ", "").replace("R$", "")
    if "," in raw:
        raw = raw.replace(".", "").replace(",", ".")
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")  # "1.234.567": thousands separators
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidAnswer(raw) from None
    if not value.is_finite():
        raise InvalidAnswer(raw)
    return value


def _parse_integer(text: str) -> int:
    raw = text.replace(" ", "")
    if not _INTEGER.match(raw):
        raise InvalidAnswer(raw)
    return int(raw.replace(".", ""))


def _parse_date(text: str) -> str:
    match = _DATE.match(text.strip())
    if not match:
        raise InvalidAnswer(text)
    day, month, year = (int(g) for g in match.groups())
    if len(match.group(3)) == 2:
        year += 2000
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        raise InvalidAnswer(text) from None


def _parse_email(text: str) -> str:
    value = text.strip()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidAnswer(value) from None
    local, _at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _parse_phone(text: str) -> str:
    try:
        return normalize_phone(text)
    except InvalidPhone:
        raise InvalidAnswer(text) from None


def _range_message(low: Decimal | None, high: Decimal | None) -> str:
    def show(value: Decimal) -> str:
        return f"{value.normalize():f}".replace(".", ",")

    if low is not None and high is not None:
        return _("Envie um número entre %(min)s e %(max)s.") % {"min": show(low), "max": show(high)}
    if low is not None:
        return _("Envie um número a partir de %(min)s.") % {"min": show(low)}
    return _("Envie um número até %(max)s.") % {"max": show(high)}


QUESTION_TYPES = ("text", "number", "integer", "email", "phone", "date", "regex")

DEFAULT_ERRORS = {
    "text": gettext_lazy("Preciso de uma resposta em texto. Pode escrever, por favor?"),
    "number": gettext_lazy("Não entendi o número. Envie só o número, por exemplo 12,5."),
    "integer": gettext_lazy("Não entendi o número. Envie só o número inteiro, por exemplo 3."),
    "email": gettext_lazy("Esse e-mail não parece válido. Envie no formato nome@exemplo.com."),
    "phone": gettext_lazy(
        "Esse telefone não parece válido. Envie com DDD, por exemplo 11 98765-4321."
    ),
    "date": gettext_lazy(
        "Não entendi a data. Envie no formato dd/mm/aaaa, por exemplo 25/12/2025."
    ),
    "regex": gettext_lazy("Essa resposta não está no formato esperado. Confira e envie de novo."),
}


@register
class QuestionHandler(Handler):
    label = gettext_lazy("Pergunta (guarda a resposta)")
    config_help = gettext_lazy(
        'Chaves: "text" (a pergunta), "save_as" (nome em que a resposta fica guardada), '
        '"next" (código da etapa seguinte) e, opcionais, "type" (text, number, integer, '
        'email, phone, date ou regex; padrão text), "regex" (o padrão, quando type é regex), '
        '"min"/"max" (para number e integer) e "error_text" (o que dizer quando a '
        "resposta não serve). Datas são pedidas como dd/mm/aaaa e guardadas como aaaa-mm-dd; "
        'telefones, só com dígitos e DDI. Exemplo: {"text": "Qual o seu e-mail?", '
        '"save_as": "email", "type": "email", "next": "confirmar"}'
    )
    config_schema = schemas.QUESTION
    KEYS = ("text", "save_as", "type", "regex", "error_text", "next", "min", "max")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = ConfigErrors(config)
        errors.only_keys(cls.KEYS)
        config = errors.config
        errors.text("text", limit=wa.TEXT_MAX)
        errors.state_key("save_as", required=True)
        errors.step_code("next", required=True)
        errors.text("error_text", limit=wa.TEXT_MAX, required=False)
        kind = config.get("type", "text")
        if kind not in QUESTION_TYPES:
            errors.add(
                _("“type” deve ser um de %(types)s, não %(value)s.")
                % {"types": ", ".join(QUESTION_TYPES), "value": repr(kind)}
            )
        if kind == "regex":
            pattern = errors.text("regex", limit=REGEX_MAX)
            if pattern:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    errors.add(
                        _("“regex” não é uma expressão regular válida: %(error)s.") % {"error": exc}
                    )
        elif "regex" in config:
            errors.add(_('“regex” só vale com "type": "regex"; remova-o ou mude o type.'))
        bounds = {}
        for key in ("min", "max"):
            if key not in config:
                continue
            value = config[key]
            if kind not in ("number", "integer"):
                errors.add(_('“%(key)s” só vale com "type" number ou integer.') % {"key": key})
            elif isinstance(value, bool) or not isinstance(value, int | float | str):
                errors.add(_("“%(key)s” deve ser um número.") % {"key": key})
            else:
                try:
                    bounds[key] = _parse_decimal(str(value))
                except InvalidAnswer:
                    errors.add(_("“%(key)s” deve ser um número.") % {"key": key})
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            errors.add(_("“min” é maior que “max”; inverta os valores."))
        errors.raise_if_any()

    @classmethod
    def referenced_steps(cls, config: dict[str, Any]) -> list[str]:
        return [config["next"]] if config.get("next") else []

    @classmethod
    def takes_free_text(cls, config: dict[str, Any]) -> bool:
        """A text or pattern question takes anything typed ("oi" may be the answer); a
        number, e-mail, phone or date question does not, so a greeting there is one."""
        return config.get("type", "text") in ("text", "regex")

    def enter(self, ctx: Context) -> Reply:
        return Reply(messages=[wa.Text(body=ctx.config["text"])])

    def handle(self, ctx: Context) -> Reply:
        config = ctx.config
        kind = config.get("type", "text")
        try:
            value = self._parse(kind, ctx.text, config)
        except InvalidAnswer as exc:
            error = config.get("error_text") or exc.message or str(DEFAULT_ERRORS[kind])
            return Reply(messages=[wa.Text(body=error)])
        return Reply(next_step=config["next"], state={config["save_as"]: value})

    @staticmethod
    def _parse(kind: str, text: str, config: dict[str, Any]) -> Any:
        if not text:
            raise InvalidAnswer(text)
        parsers: dict[str, Callable[[str], Any]] = {
            "text": str.strip,
            "number": _parse_decimal,
            "integer": _parse_integer,
            "email": _parse_email,
            "phone": _parse_phone,
            "date": _parse_date,
        }
        if kind == "regex":
            if len(text) > ANSWER_MAX_FOR_REGEX or not re.fullmatch(config["regex"], text):
                raise InvalidAnswer(text)
            return text
        value = parsers[kind](text)
        if kind in ("number", "integer"):
            low = _parse_decimal(str(config["min"])) if "min" in config else None
            high = _parse_decimal(str(config["max"])) if "max" in config else None
            if (low is not None and value < low) or (high is not None and value > high):
                raise InvalidAnswer(text, _range_message(low, high))
            if kind == "number":
                # State is JSON: keep the exact decimal as text ("12.5"), never a float.
                return str(value)
        return value


# --- End and handoff ---------------------------------------------------------------------


@register
class EndHandler(Handler):
    label = gettext_lazy("Encerrar conversa")
    config_help = gettext_lazy(
        'Chave opcional: "text" (a despedida). A próxima mensagem do cliente começa o '
        'fluxo de novo. Exemplo: {"text": "Obrigado pelo contato! Até logo."}'
    )
    config_schema = schemas.END
    KEYS = ("text",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = ConfigErrors(config)
        errors.only_keys(cls.KEYS)
        errors.text("text", limit=wa.TEXT_MAX, required=False)
        errors.raise_if_any()

    def enter(self, ctx: Context) -> Reply:
        text = ctx.config.get("text")
        return Reply(messages=[wa.Text(body=text)] if text else [], end=True)

    def handle(self, ctx: Context) -> Reply:
        return self.enter(ctx)


DEFAULT_HANDOFF_TEXT = gettext_lazy(
    "Vou te transferir para um atendente. Aguarde um momento, por favor."
)


@register
class HandoffHandler(Handler):
    label = gettext_lazy("Transferir para atendente")
    config_help = gettext_lazy(
        'Chaves opcionais: "text" (o aviso ao cliente; padrão “Vou te transferir para um '
        'atendente...”) e "queue" (o identificador da fila de atendimento; padrão: a fila '
        "padrão da empresa). A conversa passa para a fila e o robô fica em silêncio. "
        'Exemplo: {"text": "Um atendente já vai falar com você.", "queue": "suporte"}'
    )
    config_schema = schemas.HANDOFF
    KEYS = ("text", "queue")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors = ConfigErrors(config)
        errors.only_keys(cls.KEYS)
        errors.text("text", limit=wa.TEXT_MAX, required=False)
        errors.text("queue", limit=64, required=False)
        errors.raise_if_any()

    def enter(self, ctx: Context) -> Reply:
        text = ctx.config.get("text") or str(DEFAULT_HANDOFF_TEXT)
        queue = ctx.config.get("queue") or ""
        return Reply(messages=[wa.Text(body=text)], handoff=True, queue=queue)

    def handle(self, ctx: Context) -> Reply:
        return self.enter(ctx)
