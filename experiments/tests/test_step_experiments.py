"""A/B tests of a step's text (experiments): customers reaching the step through the
processor see a variant and keep it; the one replied to three times as often takes most
later customers, is reported the winner and stays the step's text; a bot's running
experiments cost a batch no statement per message."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatbots import processor
from chatbots.models import Conversation, Message, Step
from clientes.models import Cliente
from experiments import services, stats
from experiments.models import Exposure, StepExperiment
from tests.factories import ChatbotFactory, InboundEventFactory

pytestmark = pytest.mark.django_db

A = "Oi! Quer ver o cardápio de hoje?"
B = "Olá. Escolha uma opção abaixo."
T0 = 1_700_000_000


@pytest.fixture
def bot(tenant):
    return ChatbotFactory(tenant=tenant, provider="stub", flow="menu")


@pytest.fixture
def seeded(monkeypatch):
    monkeypatch.setattr(services, "rng", random.Random(0))


def _start(bot, tenant, code="inicio", goal="reply", strategy="thompson"):
    step = Step.objects.get(chatbot=bot, code=code)
    return services.experiment_start(
        tenant=tenant, step=step, texts=[A, B], goal=goal, strategy=strategy
    )


def phone(n: int) -> str:
    return f"55119{n:08d}"


def _say(bot, senders: list[str], text: str = "oi", second: int = 0) -> None:
    for p in senders:
        InboundEventFactory(
            chatbot=bot,
            text=text,
            sender=p,
            occurred_at=datetime.fromtimestamp(T0 + second, UTC),
        )
    processor.drain(batch=100)


def _greeting(bot, sender: str) -> str:
    return (
        Message.objects.filter(
            conversation__chatbot=bot, conversation__cliente__telefone=sender, direction="out"
        )
        .order_by("-id")
        .values_list("text", flat=True)
        .first()
    )


def test_the_variant_replied_to_three_times_as_often_wins_and_stays(
    bot, tenant, seeded, django_capture_on_commit_callbacks
):
    experiment = _start(bot, tenant)
    step = Step.objects.get(chatbot=bot, code="inicio")
    clientes = Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=phone(n), wa_id=phone(n), nome="C") for n in range(200)
    )
    conversations = Conversation.objects.bulk_create(
        Conversation(tenant=tenant, chatbot=bot, cliente=c) for c in clientes
    )
    replies = random.Random(100)
    seen: list[str] = []
    for cliente, conversation in zip(clientes, conversations, strict=True):
        # Each customer reaching the step, as the engine asks (chatbots.engine.Flow._goto).
        text = services.variant_text(step=step, conversation=conversation, cliente=cliente)
        if text is None:  # the experiment has finished: the step's own text from now on
            text = Step.objects.get(pk=step.pk).config["text"]
        seen.append(text)
        # Three times as often to A as to B.
        if replies.random() < (0.45 if text == A else 0.15):
            Message.objects.create(
                tenant=tenant,
                conversation=conversation,
                direction=Message.Direction.IN,
                status=Message.Status.RECEIVED,
                text="quero",
            )

    experiment.refresh_from_db()
    assert experiment.status == StepExperiment.Status.FINISHED
    assert experiment.winner.text == A
    later = seen[len(seen) // 2 :]
    assert later.count(A) > 0.75 * len(later), (len(seen), later.count(A))
    rows = {r.variant.text: r for r in stats.results(experiment=experiment)}
    assert rows[A].winner and rows[A].rate > 2 * rows[B].rate
    assert rows[A].confidence >= 0.95
    # The step keeps the winner: a new customer after the test is greeted with it.
    assert Step.objects.get(chatbot=bot, code="inicio").config["text"] == A
    with django_capture_on_commit_callbacks():
        _say(bot, [phone(999)])
    assert A in _greeting(bot, phone(999))


def test_a_customer_keeps_the_variant_they_were_shown(
    bot, tenant, seeded, django_capture_on_commit_callbacks
):
    experiment = _start(bot, tenant, strategy="epsilon")
    with django_capture_on_commit_callbacks():
        _say(bot, [phone(n) for n in range(6)])
        first = {n: _greeting(bot, phone(n)) for n in range(6)}
        assert {A in t for t in first.values()} == {True, False}  # both variants shown
        # "menu" starts the flow again: the same customers reach the step a second time.
        _say(bot, [phone(n) for n in range(6)], text="menu", second=5)
        again = {n: _greeting(bot, phone(n)) for n in range(6)}
    assert again == first
    assert Exposure.objects.filter(experiment=experiment).count() == 6


def _statements(bot, tenant, size: int, offset: int) -> int:
    senders = [phone(offset + n) for n in range(size)]
    for p in senders:
        InboundEventFactory(
            chatbot=bot,
            text="oi",
            sender=p,
            occurred_at=datetime.fromtimestamp(T0 + offset, UTC),
        )
    with CaptureQueriesContext(connection) as ctx:
        assert processor.drain(batch=100).turns == size
    return len(ctx.captured_queries)


def test_a_running_experiment_costs_a_batch_no_statement_per_message(
    bot, tenant, django_capture_on_commit_callbacks
):
    # Running on a step these customers do not reach: the lookup is once per batch, cached.
    _start(bot, tenant, code="informacoes")
    with django_capture_on_commit_callbacks():
        _statements(bot, tenant, 2, 100)  # warm: the bot's steps and experiments are cached
        small = _statements(bot, tenant, 4, 200)
        large = _statements(bot, tenant, 30, 300)
    assert large == small


def test_a_step_without_a_text_cannot_be_tested(bot, tenant):
    step = Step.objects.get(chatbot=bot, code="inicio")
    step.config = {k: v for k, v in step.config.items() if k != "text"}
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="texto configurável"):
        services.experiment_start(
            tenant=tenant, step=step, texts=[A, B], goal="reply", strategy="thompson"
        )
    with pytest.raises(ValidationError, match="de 2 a 4"):
        _ = services.experiment_start(
            tenant=tenant,
            step=Step.objects.get(chatbot=bot, code="inicio"),
            texts=[A],
            goal="reply",
            strategy="thompson",
        )


def test_with_redis_away_a_customer_still_gets_a_variant_not_an_apology(
    bot, tenant, seeded, monkeypatch, django_capture_on_commit_callbacks
):
    import redis
    from django.core.cache import cache

    _start(bot, tenant)

    def refused(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(cache, "get", refused)
    monkeypatch.setattr(cache, "set", refused)
    with django_capture_on_commit_callbacks():
        _say(bot, [phone(1)])

    assert _greeting(bot, phone(1)).startswith((A, B))  # the menu in one variant's words
    assert Exposure.objects.filter(cliente__telefone=phone(1)).count() == 1


def test_the_owners_simulator_shows_a_variant_but_counts_no_showing(bot, tenant, seeded):
    from chatbots.simulator import simulate_turn

    experiment = _start(bot, tenant)

    replies, _answered_by = simulate_turn(chatbot=bot, phone="5511900007777", text="oi")

    assert replies and replies[0].text.startswith((A, B))
    assert not Exposure.objects.filter(experiment=experiment).exists()
    assert {r.shown for r in stats.results(experiment=experiment)} == {0}
