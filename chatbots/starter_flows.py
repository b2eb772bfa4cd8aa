"""Starter flows that `bind_tenant --flow NAME` installs, and the demo bot of `seed_demo`.

A flow is a list of steps (code, handler path, config), first step first. FLOWS is the
registry: a flow whose handlers are not built yet is not listed, so asking for it fails
with the list of the ones that exist instead of installing steps that cannot run.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils.translation import gettext as _

from billing.models import Tenant
from chatbots import bots
from chatbots.handlers.registry import validate_flow
from chatbots.models import Chatbot, Step

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


def install_demo(tenant: Tenant) -> Chatbot:
    """The demo bots of seed_demo, on the stub provider: "Demo" with the order flow and a
    demo menu, and "Demo Agenda" with the agenda flow, two services and business hours.

    Idempotent. Try it with `manage.py simulate --bot <id> --phone 5511987654321 "oi"`.
    Returns the order bot.
    """
    from pedidos.demo import catalogo_demo

    catalogo_demo(tenant=tenant)
    chatbot = Chatbot.objects.filter(tenant=tenant, name="Demo").first()
    if chatbot is None:
        chatbot = bots.chatbot_create(
            tenant=tenant, name="Demo", provider="stub", display_number="5511900000000"
        )
    if not chatbot.steps.exists():
        flow_install(chatbot=chatbot, flow="pedidos")
    install_demo_agenda(tenant)
    return chatbot


def install_demo_agenda(tenant: Tenant) -> Chatbot:
    """The "Demo Agenda" bot: services "Corte de cabelo" and "Barba", Mon-Fri 9h-18h."""
    from agenda.defaults import agenda_demo_install

    agenda_demo_install(tenant=tenant)
    chatbot = Chatbot.objects.filter(tenant=tenant, name="Demo Agenda").first()
    if chatbot is None:
        chatbot = bots.chatbot_create(
            tenant=tenant, name="Demo Agenda", provider="stub", display_number="5511900000001"
        )
    if not chatbot.steps.exists():
        flow_install(chatbot=chatbot, flow="agenda")
    return chatbot
