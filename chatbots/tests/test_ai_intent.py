"""Cheap local intent and sentiment rules: the obvious cases never cost a model call."""

from __future__ import annotations

import pytest

from chatbots.ai.intent import (
    asks_for_person,
    classify_local,
    is_question,
    person_request_only,
    wants_person,
)


@pytest.mark.parametrize(
    "text, intent, polarity, settled",
    [
        ("oi", "outro", "neutral", True),
        ("Olá, bom dia!", "outro", "neutral", True),
        ("1", "outro", "neutral", True),
        ("opção 2", "outro", "neutral", True),
        ("MENU", "outro", "neutral", True),
        ("obrigada!", "outro", "positive", True),
        ("Quero pedir uma pizza", "pedido", "neutral", True),
        ("quero marcar um horário", "agendamento", "neutral", True),
        ("Quero falar com um atendente", "humano", "neutral", True),
        ("pessoa de verdade por favor", "humano", "neutral", True),
        ("Péssimo atendimento, vou no Procon", "suporte", "very_negative", False),
        ("meu pedido ainda não chegou", "suporte", "negative", False),
        ("a pizza chegou fria", "suporte", "negative", False),
        ("vocês abrem domingo?", "", "", False),
        ("tem cerveja fria?", "", "", False),
    ],
)
def test_obvious_messages_are_classified_locally(text, intent, polarity, settled):
    guess = classify_local(text)

    assert (guess.intent, guess.polarity, guess.settled) == (intent, polarity, settled)


@pytest.mark.parametrize(
    "text, offer",
    [
        ("quero falar com alguém", True),
        ("isso é um absurdo, que vergonha", True),
        ("o pedido atrasou um pouco", False),
        ("quero pedir", False),
    ],
)
def test_a_person_is_offered_on_request_or_strong_anger_only(text, offer):
    assert wants_person(classify_local(text)) is offer


@pytest.mark.parametrize(
    "text, rule",
    [
        ("quero marcar um corte amanhã", "agenda"),
        ("Queria agendar uma consulta", "agenda"),
        ("preciso remarcar", "agenda_change"),
        ("cancelar meu horário", "agenda_change"),
        ("Meu horário", "meu_horario"),
        ("qual é minha próxima consulta?", "meu_horario"),
        ("cadê meu pedido?", "status"),
        ("Status do pedido", "status"),
        ("meu pedido", "status"),
        ("meu pedido já saiu?", "status"),
        ("quero fazer meu pedido", "pedido"),
        ("quero sair da lista", "optout"),
        ("não quero mais receber mensagens", "optout"),
        ("parem de me mandar mensagem", "optout"),
        ("não quero cebola", ""),
        ("não quero mais receber o pedido", ""),
    ],
)
def test_what_a_flow_acts_on_is_told_apart_locally(text, rule):
    guess = classify_local(text)

    assert guess.rule == rule
    assert guess.settled is bool(rule)


@pytest.mark.parametrize(
    "text, only, asks",
    [
        ("atendente", True, True),
        ("Quero falar com uma pessoa, por favor", True, True),
        ("quero falar com um atendente sobre o meu pedido", False, True),
        ("o atendente foi ótimo", False, False),
        ("humano", True, True),
    ],
)
def test_a_request_for_a_person_is_told_from_a_mention(text, only, asks):
    assert (person_request_only(text), asks_for_person(text)) == (only, asks)


@pytest.mark.parametrize(
    "text, question",
    [
        ("vocês abrem domingo?", True),
        ("qual o endereço", True),
        ("Tem estacionamento", True),
        ("quero pizza", False),
        ("ok", False),
    ],
)
def test_a_question_reads_as_one(text, question):
    assert is_question(text) is question


@pytest.mark.parametrize(
    "text, wants",
    [
        ("quero uma pizza calabresa", True),
        ("Me vê duas cocas", True),
        ("queria um açaí", True),
        ("quero pizza", True),
        ("não quero cebola", False),  # an order note
        ("quero saber o horário", False),  # a verb, not a thing
        ("quero cancelar", False),
        ("quero uma pizza sem glúten?", False),  # a question: the knowledge or the model
    ],
)
def test_asking_for_something_by_name_is_left_to_the_menu_and_never_settled(text, wants):
    guess = classify_local(text)

    assert (guess.rule == "wants") is wants
    assert guess.settled is False
