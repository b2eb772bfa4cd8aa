"""The provider registry: known keys, loud failure for unknown ones, admin choices."""

from __future__ import annotations

import pytest
from django.utils import translation

from chatbots.models import Chatbot
from chatbots.providers.meta import MetaProvider
from chatbots.providers.registry import UnknownProvider, get_provider, provider_choices
from chatbots.providers.stub import StubProvider
from chatbots.wire import Text


def test_it_returns_the_registered_providers():
    assert isinstance(get_provider("meta"), MetaProvider)
    assert isinstance(get_provider("stub"), StubProvider)


def test_an_unknown_key_names_itself_and_the_valid_ones():
    with pytest.raises(UnknownProvider) as caught:
        get_provider("whatsapp-web")

    assert "'whatsapp-web'" in str(caught.value)
    assert "meta" in str(caught.value) and "stub" in str(caught.value)


def test_the_admin_choices_are_labelled_in_portuguese():
    with translation.override("pt-br"):
        choices = dict(provider_choices())

    assert set(choices) >= {"meta", "stub"}
    assert "Meta" in choices["meta"]
    assert "Simulador" in choices["stub"]


def test_the_stub_answers_with_its_own_ids_and_calls_nobody(fake_graph):
    bot = Chatbot(name="Teste", provider="stub")

    first = get_provider("stub").send(bot, "5511987654321", Text(body="Oi"))
    second = get_provider("stub").send(bot, "5511987654321", Text(body="Oi"))

    assert first.external_id.startswith("stub.") and first.external_id != second.external_id
    assert fake_graph.requests == []
