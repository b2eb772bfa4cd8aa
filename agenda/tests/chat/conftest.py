"""Fixtures of the agenda's chat tests: the agenda bot on a fake Meta, and Maria."""

import pytest

from agenda.tests.chat.whatsapp import make_bot


@pytest.fixture
def bot_agenda(tenant):
    return make_bot(tenant)


@pytest.fixture
def chat(chat_with, bot_agenda):
    """Maria talking to the tenant's agenda bot."""
    return chat_with(bot_agenda)
