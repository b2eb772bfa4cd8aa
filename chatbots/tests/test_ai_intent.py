"""Cheap local intent and sentiment rules: the obvious cases never cost a model call."""

from __future__ import annotations

import pytest

from chatbots.ai.intent import classify_local, wants_person


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
