"""Fixtures of the agenda's chat tests: the agenda bot on a fake Meta, and Maria."""

import pytest

from agenda.tests.chat.whatsapp import PNID, Chat, make_bot


@pytest.fixture
def bot_agenda(tenant):
    return make_bot(tenant)


@pytest.fixture
def chat(client, fake_graph, celery_eager, django_capture_on_commit_callbacks, bot_agenda):
    """Maria talking to the tenant's agenda bot."""
    return Chat(client, fake_graph, django_capture_on_commit_callbacks, PNID)
