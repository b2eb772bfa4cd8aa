"""What `seed_demo` leaves for a first look: a bot per flow, the assistant's knowledge, and
instructions that work when followed to the letter."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from agenda.models import Agendamento, HorarioFuncionamento
from billing.management.commands.seed_demo import DEMO_CUSTOMER
from chatbots.models import BusinessProfile, Chatbot, Conversation, KnowledgeEntry
from chatbots.simulator import simulate_message
from clientes.models import Cliente
from pedidos import hours
from pedidos.models import ConfiguracaoPedidos, Pedido, TaxaEntrega
from pedidos.money import format_brl
from pedidos.status import StatusPedido

# A Monday morning, the demo store open (pedidos.demo.SEMANA), so "amanhã" in the agenda
# bot's instructions is a working day.
MONDAY = datetime(2030, 3, 4, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
TROUBLE = ("Desculpe, tive um problema", "Não entendi", "Não encontrei")


@pytest.fixture
def seeded(db, settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    settings.GEMINI_API_KEY = ""
    out = StringIO()
    with time_machine.travel(MONDAY, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo_bots() -> dict[str, Chatbot]:
    return {b.name: b for b in Chatbot.objects.filter(tenant__slug="demo")}


def handlers(bot: Chatbot) -> set[str]:
    return set(bot.steps.values_list("handler_path", flat=True))


def test_the_demo_has_a_menu_bot_an_order_bot_and_an_agenda_bot(seeded):
    bots = demo_bots()

    assert set(bots) == {"Demo Menu", "Demo Pedidos", "Demo Agenda"}
    assert "chatbots.handlers.generic.MenuHandler" in handlers(bots["Demo Menu"])
    assert "chatbots.handlers.pedidos.ConfirmarPedidoHandler" in handlers(bots["Demo Pedidos"])
    assert "chatbots.handlers.agenda.ConfirmarAgendamentoHandler" in handlers(bots["Demo Agenda"])
    assert all(b.provider == "stub" and b.options.get("ai_fallback") is True for b in bots.values())


def test_the_demo_has_a_knowledge_base_and_a_business_profile(seeded):
    tenant = Chatbot.objects.filter(tenant__slug="demo").first().tenant
    questions = list(
        KnowledgeEntry.objects.filter(tenant=tenant).values_list("question", flat=True)
    )

    assert len(questions) >= 6
    assert "Vocês abrem domingo?" in questions
    assert BusinessProfile.objects.get(tenant=tenant).address.startswith("Rua das Flores")


def test_the_demo_is_one_store_with_one_address_one_week_and_one_fee_table(seeded):
    tenant = Chatbot.objects.filter(tenant__slug="demo").first().tenant
    loja = ConfiguracaoPedidos.objects.get(tenant=tenant)
    profile = BusinessProfile.objects.get(tenant=tenant)
    knowledge = " ".join(
        KnowledgeEntry.objects.filter(tenant=tenant).values_list("answer", flat=True)
    )

    assert loja.endereco_loja == profile.address
    assert profile.address in knowledge
    # The order bot takes orders exactly when the agenda bot books: every half hour of a week.
    agenda = list(HorarioFuncionamento.objects.filter(tenant=tenant))
    monday = MONDAY.replace(hour=0)
    for half_hour in range(7 * 48):
        at = monday + timedelta(minutes=30 * half_hour)
        booked = any(h.dia_semana == at.weekday() and h.abre <= at.time() < h.fecha for h in agenda)
        assert hours.is_open(loja.horarios, at) is booked, at
    assert "De segunda a domingo, das 8h às 23h" in profile.opening_hours
    # The knowledge base states the fees the order bot charges.
    for taxa in TaxaEntrega.objects.filter(tenant=tenant):
        assert f"{taxa.bairro}: {format_brl(taxa.valor)}" in knowledge
    assert f"Outros bairros: {format_brl(loja.taxa_entrega_padrao)}" in knowledge
    assert "Pix" not in knowledge.split("Aceitamos", 1)[1].split(".")[0]  # no Pix key


def test_no_demo_number_is_shared_by_a_bot_a_cliente_or_the_instructions(seeded):
    bot_numbers = [b.display_number for b in demo_bots().values()]
    cliente_numbers = list(
        Cliente.objects.filter(tenant__slug="demo").values_list("telefone", flat=True)
    )

    assert len(set(bot_numbers)) == 3
    assert not set(bot_numbers) & set(cliente_numbers)
    assert DEMO_CUSTOMER not in bot_numbers + cliente_numbers


def test_the_output_names_each_bot_with_its_id_and_what_to_type(seeded):
    for name, bot in demo_bots().items():
        assert f"#{bot.pk} {name}" in seeded
    assert f'simulate --bot <id> --phone {DEMO_CUSTOMER} "<mensagem>"' in seeded
    assert seeded.count("digite:") == 3
    # Without a Gemini key the demo says where the answers come from.
    assert "GEMINI_API_KEY vazia" in seeded and "base de conhecimento" in seeded
    assert "Gemini (GEMINI_API_KEY definida)" not in seeded


def test_running_it_again_changes_nothing(seeded):
    before = (
        sorted((b.pk, b.name, b.display_number) for b in demo_bots().values()),
        KnowledgeEntry.objects.count(),
        sum(b.steps.count() for b in demo_bots().values()),
    )
    call_command("seed_demo", stdout=StringIO())
    after = (
        sorted((b.pk, b.name, b.display_number) for b in demo_bots().values()),
        KnowledgeEntry.objects.count(),
        sum(b.steps.count() for b in demo_bots().values()),
    )
    assert after == before


def _typed_lines(output: str, name: str) -> list[str]:
    block = output.split(f" {name} (", 1)[1]
    typed = block.split("digite:", 1)[1].splitlines()[0]
    return re.findall(r"“([^”]+)”", typed)


def _follow(bot: Chatbot, lines: list[str]) -> list[list[str]]:
    """Type each line into the simulator, as the instructions say; the replies per line."""
    answers = []
    for line in lines:
        replies = simulate_message(chatbot=bot, phone=DEMO_CUSTOMER, text=line)
        answers.append([m.text for m in replies])
    return answers


def _no_trouble(answers: list[list[str]]) -> None:
    for replies in answers:
        assert replies, answers
        assert not any(t in text for text in replies for t in TROUBLE), answers


def test_following_the_menu_bots_instructions_answers_from_the_knowledge_base(seeded):
    bot = demo_bots()["Demo Menu"]
    answers = _follow(bot, _typed_lines(seeded, "Demo Menu"))

    _no_trouble(answers)
    assert "Pizzaria Demo" in answers[0][0]
    assert any("Abrimos, sim" in t for t in answers[1])
    assert any("Centro: R$ 5,00" in t and "Outros bairros: R$ 12,00" in t for t in answers[2])
    # "atendente": a person is called, or offered with a button.
    called = Conversation.objects.get(chatbot=bot).status == Conversation.Status.WAITING
    assert called or "Falar com atendente" in answers[3][-1]


def test_following_the_order_bots_instructions_places_an_order(seeded):
    bot = demo_bots()["Demo Pedidos"]
    with time_machine.travel(MONDAY, tick=False):
        answers = _follow(bot, _typed_lines(seeded, "Demo Pedidos"))

    _no_trouble(answers)
    pedido = Pedido.objects.exclude(status=StatusPedido.RASCUNHO).get(chatbot=bot)
    assert [(i.produto.nome, i.quantidade) for i in pedido.itens.all()] == [("Pizza Calabresa", 2)]
    assert (pedido.modo_entrega, pedido.forma_pagamento, pedido.observacoes) == (
        "retirada",
        "cartao",
        "sem cebola",
    )
    assert pedido.cliente.nome == "Ana"


def test_following_the_agenda_bots_instructions_books_and_shows_the_appointment(seeded):
    bot = demo_bots()["Demo Agenda"]
    with time_machine.travel(MONDAY, tick=False):
        answers = _follow(bot, _typed_lines(seeded, "Demo Agenda"))

    _no_trouble(answers)
    agendamento = Agendamento.objects.get(tenant=bot.tenant)
    assert agendamento.servico.nome == "Corte de cabelo"
    assert agendamento.inicio == datetime(2030, 3, 5, 10, 0, tzinfo=MONDAY.tzinfo)
    assert any("Ter 05/03" in t for t in answers[-1]), answers  # "meu horário" shows it


def test_with_a_gemini_key_the_output_says_gemini_answers(db, settings):
    settings.DEMO_ADMIN_PASSWORD = ""
    settings.GEMINI_API_KEY = "chave-de-teste"
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Gemini (GEMINI_API_KEY definida)" in out.getvalue()
