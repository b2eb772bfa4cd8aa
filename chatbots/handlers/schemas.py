"""The config schemas of the generic handlers (chatbots.handlers.generic): what the flow
editor's forms show for each key (staff.step_forms). The keys and limits are judged by each
handler's `validate_config`; these only name and describe them in pt-BR."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from chatbots.handlers.base import ConfigField

TEXT = ConfigField("text", _("Texto que o robô envia"), "textarea", required=True)
NEXT = ConfigField("next", _("Etapa seguinte"), "step", required=True)

MENU = (
    ConfigField("text", _("Pergunta do menu"), "textarea", required=True),
    ConfigField(
        "options",
        _("Opções"),
        "options",
        required=True,
        help=_(
            "Até 3 opções sem descrição viram botões (título até 20 caracteres); até 10 "
            "viram lista (título até 24). Deixe em branco as linhas que não usar."
        ),
        item_fields=(
            ConfigField("title", _("Título"), required=True),
            ConfigField("description", _("Descrição")),
            ConfigField("next", _("Leva para"), "step", required=True),
        ),
    ),
    ConfigField("button", _("Rótulo do botão da lista"), help=_("Padrão: “Ver opções”.")),
    ConfigField("invalid_text", _("Resposta quando o cliente não escolhe uma opção"), "textarea"),
    ConfigField("save_as", _("Guardar a escolha como"), help=_("Um nome, por exemplo: assunto.")),
)

MESSAGE = (
    TEXT,
    ConfigField(
        "next", _("Etapa seguinte"), "step", help=_("Sem etapa seguinte, o robô repete o texto.")
    ),
)

QUESTION = (
    ConfigField("text", _("Pergunta"), "textarea", required=True),
    ConfigField(
        "save_as", _("Guardar a resposta como"), required=True, help=_("Por exemplo: email.")
    ),
    ConfigField(
        "type",
        _("Tipo de resposta"),
        "choice",
        choices=(
            ("text", _("Texto")),
            ("number", _("Número")),
            ("integer", _("Número inteiro")),
            ("email", _("E-mail")),
            ("phone", _("Telefone")),
            ("date", _("Data (dd/mm/aaaa)")),
            ("regex", _("Padrão (expressão regular)")),
        ),
    ),
    ConfigField("regex", _("Padrão"), help=_("Só para o tipo “Padrão”.")),
    ConfigField("min", _("Mínimo"), "integer", help=_("Só para números.")),
    ConfigField("max", _("Máximo"), "integer", help=_("Só para números.")),
    ConfigField("error_text", _("Resposta quando a resposta não serve"), "textarea"),
    NEXT,
)

END = (TEXT,)

HANDOFF = (
    ConfigField("text", _("Aviso ao cliente"), "textarea", help=_("Padrão: “Vou te transferir…”.")),
    ConfigField(
        "queue",
        _("Fila de atendimento"),
        help=_("O identificador da fila; em branco, a fila padrão da empresa."),
    ),
)

# Steps whose only config is optional texts (the order and agenda flows): an empty schema
# still gives them a form (no JSON box) with nothing to fill.
NONE: tuple[ConfigField, ...] = ()

OPTIONAL_TEXT = (
    ConfigField(
        "text", _("Texto que o robô envia"), "textarea", help=_("Em branco: o texto padrão.")
    ),
)

QUANTITY = (
    ConfigField(
        "max_quantidade",
        _("Quantidade máxima por item"),
        "integer",
        help=_("Em branco: até 99."),
    ),
)

ASSISTANT = (
    ConfigField(
        "text",
        _("Convite ao chegar na etapa"),
        "textarea",
        help=_("Ex.: Tire suas dúvidas por aqui!"),
    ),
    ConfigField(
        "flows.pedido",
        _("Etapa oferecida para fazer um pedido"),
        "step",
        help=_("Em branco: a etapa inicial do fluxo de pedidos, se houver."),
    ),
    ConfigField("flows.agendamento", _("Etapa oferecida para marcar um horário"), "step"),
)
