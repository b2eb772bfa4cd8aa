"""What one engine turn costs in queries: a customer's text in, the bot's reply queued.

The cost is a constant number of statements, whatever the size of the tenant: how many
customers it has, how many steps its bot has, how long the customer's conversation is. The
bounds are today's counts, so a turn that starts costing one more query fails here first.
Savepoints count: each is a round trip to the database.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatbots import engine
from chatbots.models import Conversation, InboundEvent, Message, Step
from clientes.models import Cliente
from tests.factories import ChatbotFactory, InboundEventFactory

# A new customer: find the event, claim it under the contact's lock, create the Cliente and
# the Conversation, store the message, load the steps, queue the greeting, save the state.
NEW_CUSTOMER_MAX = 19
# A customer in the middle of the flow: no Cliente or Conversation to create.
RETURNING_CUSTOMER_MAX = 14


def _turn(bot, phone: str, text: str) -> int:
    """Process one stored text of `phone` and return the queries it took; the reply must
    be queued (its send runs after the commit, outside this count)."""
    event = InboundEventFactory(chatbot=bot, sender=phone, text=text)
    queued = Message.objects.filter(direction="out", status=Message.Status.QUEUED).count()
    with CaptureQueriesContext(connection) as ctx:
        engine.process_event(event.pk)
    assert Message.objects.filter(direction="out", status=Message.Status.QUEUED).count() > queued
    return len(ctx.captured_queries)


def _many_customers(tenant, bot, count: int, *, start: int = 0) -> None:
    clientes = Cliente.objects.bulk_create(
        Cliente(tenant=tenant, telefone=f"55219{i:08d}", nome=f"C{i}")
        for i in range(start, start + count)
    )
    Conversation.objects.bulk_create(
        Conversation(tenant=tenant, chatbot=bot, cliente=c, current_step="inicio") for c in clientes
    )


def _many_steps(bot, count: int) -> None:
    # After the menu flow's own steps, so the flow the customer walks does not change.
    Step.objects.bulk_create(
        Step(
            tenant=bot.tenant,
            chatbot=bot,
            code=f"extra-{i}",
            handler_path="chatbots.handlers.generic.EndHandler",
            order=1000 + i,
        )
        for i in range(count)
    )


def _long_history(tenant, phone: str, count: int) -> None:
    conversation = Conversation.objects.get(cliente__telefone=phone)
    Message.objects.bulk_create(
        Message(
            tenant=tenant,
            conversation=conversation,
            direction=Message.Direction.IN if i % 2 else Message.Direction.OUT,
            text=f"mensagem {i}",
            status=Message.Status.RECEIVED if i % 2 else Message.Status.SENT,
        )
        for i in range(count)
    )


def test_a_new_customers_first_message_costs_the_same_with_10_or_10000_customers(tenant, settings):
    # Creating 9,990 customers can outlast the steps' 5 s cache on a busy machine; the
    # comparison is about the tenant's size, so the cache must not expire in between.
    settings.WEBHOOK_ROUTE_CACHE_SECONDS = 600
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    _many_customers(tenant, bot, 10)
    _turn(bot, "5531911110000", "oi")  # the bot's steps are now cached in this process
    small = _turn(bot, "5531911110001", "oi")
    _many_customers(tenant, bot, 9_990, start=10)
    large = _turn(bot, "5531911110002", "oi")

    assert small == large
    assert large <= NEW_CUSTOMER_MAX, f"{large} queries to greet a new customer"


def test_a_returning_customers_turn_costs_the_same_however_big_the_tenant(tenant):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    _turn(bot, "5531911110001", "oi")
    small = _turn(bot, "5531911110001", "1")  # "Horário e endereço" from the menu

    _many_customers(tenant, bot, 10_000)
    _many_steps(bot, 200)
    _turn(bot, "5531911110002", "oi")
    _long_history(tenant, "5531911110002", 2_000)
    _turn(bot, "5531911110002", "menu")  # the menu is again the last thing the bot said
    large = _turn(bot, "5531911110002", "1")

    assert Conversation.objects.get(cliente__telefone="5531911110002").current_step == (
        "informacoes"
    )
    assert small == large
    assert large <= RETURNING_CUSTOMER_MAX, f"{large} queries for a returning customer's turn"


def test_the_burst_window_adds_no_query_to_a_single_message(tenant, settings):
    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    _turn(bot, "5531911110001", "oi")
    _turn(bot, "5531911110002", "oi")
    off = _turn(bot, "5531911110001", "1")

    settings.CHATBOT_DEBOUNCE_MS = 1500
    event = InboundEventFactory(chatbot=bot, sender="5531911110002", text="1")
    # Received a window ago: the customer has been quiet since, so it is answered now.
    InboundEvent.objects.filter(pk=event.pk).update(
        received_at=event.received_at - timedelta(seconds=2)
    )
    with CaptureQueriesContext(connection) as ctx:
        engine.process_event(event.pk)

    assert InboundEvent.objects.get(pk=event.pk).state == InboundEvent.State.DONE
    assert len(ctx.captured_queries) == off


def test_the_bots_steps_are_loaded_once_and_an_edit_is_seen_at_once(tenant):
    from chatbots import bots

    bot = ChatbotFactory(tenant=tenant, provider="stub", flow="menu")
    first = _turn(bot, "5531911110001", "oi")
    second = _turn(bot, "5531911110002", "oi")
    # The steps' SELECT, once per bot and process, and the bot's running A/B tests' SELECT,
    # once per bot in the shared cache (experiments.services.running_experiments).
    assert second == first - 2

    inicio = Step.objects.get(chatbot=bot, code="inicio")
    config = dict(inicio.config)
    greeting_key = next(k for k, v in config.items() if isinstance(v, str) and len(v) > 5)
    config[greeting_key] = "Bem-vindo à nova loja!"
    bots.step_update(step=inicio, config=config)
    _turn(bot, "5531911110003", "oi")

    reply = Message.objects.filter(
        direction="out", conversation__cliente__telefone="5531911110003"
    ).first()
    assert "Bem-vindo à nova loja!" in reply.text
