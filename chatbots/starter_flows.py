"""Starter flows that `bind_tenant --flow NAME` installs, and the demo bots of `seed_demo`.

A flow is a list of steps (code, handler path, config), first step first. FLOWS is the
registry: a flow whose handlers are not built yet is not listed, so asking for it fails
with the list of the ones that exist instead of installing steps that cannot run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots import bots
from chatbots.handlers.registry import validate_flow
from chatbots.models import BusinessProfile, Chatbot, KnowledgeEntry, Step
from pedidos import demo

GENERIC = "chatbots.handlers.generic"

StepSpec = tuple[str, str, dict]


def menu_flow() -> list[StepSpec]:
    return [
        (
            "inicio",
            f"{GENERIC}.MenuHandler",
            {
                "text": _("Olá! 👋 Sou o assistente virtual. Como posso ajudar?"),
                "options": [
                    {"id": "info", "title": _("Horário e endereço"), "next": "informacoes"},
                    {"id": "humano", "title": _("Falar com atendente"), "next": "atendente"},
                    {"id": "sair", "title": _("Encerrar"), "next": "fim"},
                ],
            },
        ),
        (
            "informacoes",
            f"{GENERIC}.MessageHandler",
            {
                "text": _(
                    "Atendemos de segunda a sábado, das 9h às 18h. "
                    "Digite *menu* a qualquer momento para voltar ao início."
                ),
            },
        ),
        (
            "atendente",
            f"{GENERIC}.HandoffHandler",
            {"text": _("Certo! Vou chamar uma pessoa da equipe. Aguarde um instante, por favor.")},
        ),
        ("fim", f"{GENERIC}.EndHandler", {"text": _("Obrigado pelo contato! Até logo. 😊")}),
    ]


PEDIDOS = "chatbots.handlers.pedidos"


def pedidos_flow() -> list[StepSpec]:
    """The original system's order flow (exactly these six codes and handler paths, in
    this order: DESIGN.md), then the checkout steps asked between "Finalizar" and the
    confirmation (name, delivery or pickup, address, payment, notes)."""
    return [
        ("inicio", f"{PEDIDOS}.InicioHandlerPedidos", {}),
        ("selecionar_categoria", f"{PEDIDOS}.SelecionarCategoriaHandler", {}),
        ("selecionar_produto", f"{PEDIDOS}.SelecionarProdutoHandler", {}),
        ("informar_quantidade", f"{PEDIDOS}.InformarQuantidadeHandler", {}),
        ("adicionar_mais", f"{PEDIDOS}.AdicionarMaisHandler", {}),
        ("confirmar_pedido", f"{PEDIDOS}.ConfirmarPedidoHandler", {}),
        ("informar_nome", f"{PEDIDOS}.InformarNomeHandler", {}),
        ("modo_entrega", f"{PEDIDOS}.ModoEntregaHandler", {}),
        ("informar_endereco", f"{PEDIDOS}.InformarEnderecoHandler", {}),
        ("forma_pagamento", f"{PEDIDOS}.FormaPagamentoHandler", {}),
        ("observacoes_pedido", f"{PEDIDOS}.ObservacoesHandler", {}),
    ]


AGENDA = "chatbots.handlers.agenda"


def agenda_flow() -> list[StepSpec]:
    """Appointments: book (service -> day -> time -> confirm), see, reschedule, cancel."""
    return [
        ("inicio", f"{AGENDA}.AgendaInicioHandler", {}),
        ("agenda_servico", f"{AGENDA}.EscolherServicoHandler", {}),
        ("agenda_dia", f"{AGENDA}.EscolherDiaHandler", {}),
        ("agenda_horario", f"{AGENDA}.EscolherHorarioHandler", {}),
        ("agenda_confirmar", f"{AGENDA}.ConfirmarAgendamentoHandler", {}),
        ("agenda_meu_horario", f"{AGENDA}.MeuHorarioHandler", {}),
    ]


FLOWS: dict[str, Callable[[], list[StepSpec]]] = {
    "menu": menu_flow,
    "pedidos": pedidos_flow,
    "agenda": agenda_flow,
}


def _agenda_prepare(tenant: Tenant) -> str:
    from agenda.defaults import agenda_default_ensure

    return agenda_default_ensure(tenant=tenant)


# What a flow needs from the tenant besides its steps (bind_tenant runs it and prints the
# note): the agenda flow needs an availability source to offer anything.
FLOW_PREPARE: dict[str, Callable[[Tenant], str]] = {"agenda": _agenda_prepare}


def flow_prepare(*, tenant: Tenant, flow: str) -> str:
    """Set up what the named flow needs in the tenant; returns a note of what was done."""
    prepare = FLOW_PREPARE.get(flow)
    return prepare(tenant) if prepare is not None else ""


class UnknownFlow(LookupError):
    pass


def flow_steps(name: str) -> list[StepSpec]:
    try:
        return FLOWS[name]()
    except KeyError:
        raise UnknownFlow(
            _("Fluxo '%(name)s' não existe. Disponíveis: %(names)s.")
            % {"name": name, "names": ", ".join(sorted(FLOWS))}
        ) from None


@transaction.atomic
def flow_install(*, chatbot: Chatbot, flow: str) -> list[Step]:
    """Replace the bot's steps with the named starter flow."""
    specs = flow_steps(flow)
    problems = validate_flow(specs)
    if problems:
        raise ValueError("; ".join(problems))
    chatbot.steps.all().delete()
    return [
        bots.step_create(chatbot=chatbot, code=code, handler_path=path, order=order, config=config)
        for order, (code, path, config) in enumerate(specs, start=1)
    ]


# --- The demo (seed_demo) -------------------------------------------------------------------


@dataclass(frozen=True)
class DemoBot:
    """One demo bot and what to type to see its flow (seed_demo prints it)."""

    chatbot: Chatbot
    flow: str
    try_typing: list[str]


# (name, flow, display number, earlier names, what to type). The numbers are fictitious
# (9 0000-xxxx is not assigned to mobiles in DDD 11) and apart from the demo's clientes.
DEMO_BOTS = [
    (
        "Demo Menu",
        "menu",
        "5511900000010",
        (),
        ["oi", "vocês abrem domingo?", "qual a taxa de entrega?", "atendente"],
    ),
    (
        "Demo Pedidos",
        "pedidos",
        "5511900000011",
        ("Demo",),
        [
            "oi",
            "pizzas",
            "calabresa",
            "2",
            "finalizar",
            "Ana",
            "retirada",
            "cartão",
            "sem cebola",
            "confirmar",
        ],
    ),
    (
        "Demo Agenda",
        "agenda",
        "5511900000012",
        (),
        ["oi", "agendar", "corte", "amanhã", "10:00", "confirmar", "oi", "meu horário"],
    ),
]
# The assistant answers free text a step does not expect (chatbots.ai.options): from the
# knowledge base below without GEMINI_API_KEY, from Gemini with it.
DEMO_OPTIONS = {"ai_fallback": True}

# What the demo says about its store comes from pedidos.demo (one address, one week, one fee
# table), so the menu bot, the order bot and the agenda bot tell the same business.


def demo_knowledge() -> list[tuple[str, str]]:
    """The demo's knowledge base: (question, answer)."""
    return [
        ("Qual o horário de funcionamento?", demo.horario_texto()),
        ("Vocês abrem domingo?", demo.domingo_texto()),
        ("Onde fica a pizzaria? Qual o endereço?", _("Estamos na %s.") % demo.ENDERECO),
        ("Vocês fazem entrega? Qual a taxa de entrega?", demo.entrega_texto()),
        ("Quais as formas de pagamento? Aceitam cartão ou Pix?", demo.pagamento_texto()),
        (
            "Tem opção vegetariana?",
            _("Temos: Margherita e Quatro Queijos são vegetarianas, e as sobremesas também."),
        ),
        (
            "Tem pizza sem glúten ou sem lactose?",
            _("Ainda não temos massa sem glúten nem queijo sem lactose, desculpe."),
        ),
        (
            "Qual o tamanho da pizza? Quantas fatias?",
            _("Nossas pizzas são grandes: 35 cm, 8 fatias."),
        ),
    ]


def demo_menu_texts() -> dict[str, str]:
    """The demo menu's own words, by step code (the starter menu's are generic)."""
    return {
        "inicio": _(
            "Olá! 👋 Sou o assistente virtual da Pizzaria Demo. Escolha uma opção ou escreva "
            "sua dúvida (por exemplo: “vocês entregam?”)."
        ),
        "informacoes": _(
            "%(hours)s\nEndereço: %(address)s.\nDigite *menu* a qualquer momento para voltar "
            "ao início."
        )
        % {"hours": demo.horario_texto(), "address": demo.ENDERECO},
    }


def install_demo(tenant: Tenant) -> list[DemoBot]:
    """The demo of seed_demo, on the stub provider: a menu bot, the order bot (with the
    demo menu) and the agenda bot (two services, business hours), the assistant's
    knowledge base and business profile, the assistant fallback on. Idempotent: a second
    run adds nothing and puts the demo's settings back.

    Try a bot with `manage.py simulate --bot <id> --phone 5511987654321 "oi"`.
    """
    from agenda.defaults import agenda_demo_install

    demo.catalogo_demo(tenant=tenant)
    agenda_demo_install(tenant=tenant, horarios=demo.SEMANA)
    demo_knowledge_install(tenant)
    installed = []
    for name, flow, number, earlier, try_typing in DEMO_BOTS:
        chatbot = _demo_bot(tenant, name=name, earlier=earlier, number=number)
        if not chatbot.steps.exists():
            flow_install(chatbot=chatbot, flow=flow)
            if flow == "menu":
                texts = demo_menu_texts()
                for step in chatbot.steps.filter(code__in=texts):
                    config = {**step.config, "text": texts[step.code]}
                    bots.step_update(step=step, config=config)
        installed.append(DemoBot(chatbot=chatbot, flow=flow, try_typing=try_typing))
    return installed


def _demo_bot(tenant: Tenant, *, name: str, earlier: tuple[str, ...], number: str) -> Chatbot:
    chatbot = Chatbot.objects.filter(tenant=tenant, name__in=(name, *earlier)).first()
    if chatbot is None:
        return bots.chatbot_create(
            tenant=tenant,
            name=name,
            provider="stub",
            display_number=number,
            options=dict(DEMO_OPTIONS),
        )
    options = {**chatbot.options, **DEMO_OPTIONS}
    if (chatbot.name, chatbot.display_number, chatbot.options) != (name, number, options):
        chatbot = bots.chatbot_update(
            chatbot=chatbot, name=name, display_number=number, options=options
        )
    return chatbot


def demo_knowledge_install(tenant: Tenant) -> None:
    """The demo's business profile and knowledge base (also used by the conversation
    corpus, tests/conversations). Entries already there are kept as they are."""
    BusinessProfile.objects.get_or_create(
        tenant=tenant,
        defaults={
            "address": demo.ENDERECO,
            "opening_hours": demo.horario_texto(),
            "phone": demo.TELEFONE,
        },
    )
    for question, answer in demo_knowledge():
        KnowledgeEntry.objects.get_or_create(
            tenant=tenant, question=question, defaults={"answer": answer}
        )
