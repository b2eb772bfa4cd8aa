"""What the bot understands at any step, through the webhook: a greeting, a request for a
person, opting out in words, an order's status, an intent that starts a flow, and free text
no step expected (chatbots.interceptors.understanding, .order_status)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from chatbots.models import BusinessProfile, Conversation, KnowledgeEntry
from clientes.models import Cliente
from pedidos.models import ItemPedido, Pedido
from pedidos.status import StatusPedido
from tests.conversation import bot_said
from tests.factories import CategoriaFactory, ChatbotFactory, ProdutoFactory, StepFactory

SECRET = "understanding-test-secret"
GENERIC = "chatbots.handlers.generic"


def _buttons(message) -> list[tuple[str, str]]:
    return [(b["id"], b["title"]) for b in message.payload.get("buttons", [])]


@pytest.fixture
def menu_bot(tenant):
    return ChatbotFactory(tenant=tenant, provider="stub", app_secret=SECRET, flow="menu")


@pytest.fixture
def loja(tenant):
    """A stub bot with the order flow, and a catalog."""
    bot = ChatbotFactory(tenant=tenant, provider="stub", app_secret=SECRET, flow="pedidos")
    pizzas = CategoriaFactory(tenant=tenant, nome="Pizzas", ordem=1)
    ProdutoFactory(categoria=pizzas, nome="Calabresa", preco=Decimal("45.00"))
    return bot


@pytest.fixture
def comment_bot(tenant):
    """A bot whose first step asks for a comment in free text."""
    bot = ChatbotFactory(tenant=tenant, provider="stub", app_secret=SECRET)
    StepFactory(
        chatbot=bot,
        code="comentario",
        order=1,
        handler_path=f"{GENERIC}.QuestionHandler",
        config={"text": "Deixe seu comentário:", "save_as": "comentario", "next": "fim"},
    )
    StepFactory(
        chatbot=bot,
        code="fim",
        order=2,
        handler_path=f"{GENERIC}.MessageHandler",
        config={"text": "Valeu!"},
    )
    return bot


# --- A greeting -------------------------------------------------------------------------


def test_a_greeting_at_any_step_offers_the_menu_again(chat_with, menu_bot):
    chat = chat_with(menu_bot)
    chat.text("oi")
    chat.tap("info", "Horário e endereço")
    assert chat.conversation.current_step == "informacoes"

    [menu] = chat.text("Bom dia!")

    assert menu.type == "buttons" and "Como posso ajudar" in menu.text
    assert chat.conversation.current_step == "inicio"


def test_a_step_that_takes_free_text_keeps_a_greeting_or_a_mention_as_its_answer(
    chat_with, comment_bot
):
    chat = chat_with(comment_bot)
    chat.text("oi")  # the first message only opens the conversation
    assert chat.conversation.current_step == "comentario"

    chat.text("bom dia")

    assert chat.conversation.state["comentario"] == "bom dia"
    assert chat.texts == ["Valeu!"]


def test_a_mention_of_the_attendant_in_free_text_is_the_answer_not_a_handoff(
    chat_with, comment_bot
):
    chat = chat_with(comment_bot)
    chat.text("oi")

    chat.text("o atendente foi ótimo")

    assert chat.conversation.state["comentario"] == "o atendente foi ótimo"
    assert chat.conversation.status == Conversation.Status.BOT


# --- A person ---------------------------------------------------------------------------


def test_atendente_typed_mid_order_reaches_a_person_and_the_bot_goes_quiet(chat_with, loja):
    chat = chat_with(loja)
    chat.text("oi")
    assert chat.conversation.current_step == "selecionar_categoria"

    said, place = chat.text("quero falar com um atendente, por favor")

    assert said.text.startswith("Vou te transferir para um atendente")
    assert place.text.startswith(
        "Você é o número 1 na fila de Atendimento."
    )  # the attendant queue's line (inbox)
    assert chat.conversation.status == Conversation.Status.WAITING
    assert chat.text("oi?") == []


def test_atendente_typed_at_a_free_text_step_reaches_a_person(chat_with, comment_bot):
    chat = chat_with(comment_bot)
    chat.text("oi")

    chat.text("Atendente")

    assert chat.conversation.status == Conversation.Status.WAITING
    assert "comentario" not in chat.conversation.state


def test_an_older_falar_com_atendente_button_tapped_later_uses_the_flows_handoff_step(
    chat_with, menu_bot
):
    chat = chat_with(menu_bot)
    chat.text("oi")
    chat.tap("info", "Horário e endereço")

    said, place = chat.tap("humano", "Falar com atendente")  # the menu's button, still on screen

    assert said.text.startswith("Certo! Vou chamar uma pessoa da equipe")  # the flow's text
    assert place.text.startswith("Você é o número 1 na fila de Atendimento.")
    conversation = chat.conversation
    assert (conversation.current_step, conversation.status) == ("atendente", "waiting")


# --- Opting out in words ----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["quero sair da lista", "Não quero mais receber mensagens", "me tira dessa lista"]
)
def test_opting_out_in_words_works_like_sair_at_any_step(chat_with, loja, typed):
    chat = chat_with(loja)
    chat.text("oi")

    [said] = chat.text(typed)

    assert said.text.startswith("Pronto! Você não vai mais receber mensagens")
    assert Cliente.objects.get(telefone=chat.phone).optout_em is not None


def test_an_order_note_that_says_nao_quero_is_not_an_opt_out(chat_with, loja):
    chat = chat_with(loja)
    chat.text("oi")

    chat.text("não quero cebola")

    assert Cliente.objects.get(telefone=chat.phone).optout_em is None


# --- An order's status ------------------------------------------------------------------

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize("typed", ["cadê meu pedido?", "status do pedido", "meu pedido"])
def test_an_orders_status_is_its_last_order_its_status_and_when_it_changed(
    chat_with, loja, tenant, cliente, typed
):
    margherita = ProdutoFactory(categoria__tenant=tenant, nome="Margherita", preco=Decimal("40"))
    with time_machine.travel(datetime(2030, 3, 4, 14, 32, tzinfo=SP), tick=False):
        older = Pedido.objects.create(tenant=tenant, cliente=cliente, status=StatusPedido.ENTREGUE)
        pedido = Pedido.objects.create(
            tenant=tenant, cliente=cliente, chatbot=loja, status=StatusPedido.SAIU_PARA_ENTREGA
        )
        ItemPedido.objects.create(
            tenant=tenant, pedido=pedido, produto=margherita, quantidade=2, preco_unitario=40
        )
        chat = chat_with(loja)
        chat.text("oi")

        [said] = chat.text(typed)

    assert said.text.startswith(
        f"📦 Seu pedido nº {pedido.numero}: *Saiu para entrega* (atualizado hoje às 14:32)."
    )
    assert "2 × Margherita (R$ 40,00) = R$ 80,00" in said.text
    assert f"nº {older.numero}" not in said.text
    assert said.text.endswith("Para falar com uma pessoa sobre ele, envie *atendente*.")
    assert chat.conversation.current_step == "selecionar_categoria"  # where the customer was


def test_without_an_order_the_status_says_so_and_offers_to_order(chat_with, loja):
    chat = chat_with(loja)
    chat.text("oi")

    [said] = chat.text("cadê meu pedido?")

    assert said.payload["body"] == "Não encontrei nenhum pedido seu por aqui. Quer fazer um agora?"
    assert _buttons(said) == [("intencao:pedido", "Fazer pedido")]

    chat.tap("intencao:pedido", "Fazer pedido")
    assert chat.conversation.current_step == "selecionar_categoria"
    assert chat.sent[-1].type == "list"


def test_a_cart_in_progress_is_not_an_order_to_report(chat_with, loja, tenant, cliente):
    Pedido.objects.create(tenant=tenant, cliente=cliente, chatbot=loja)  # rascunho
    chat = chat_with(loja)
    chat.text("oi")

    [said] = chat.text("status do pedido")

    assert said.text.startswith("Não encontrei nenhum pedido seu")


# --- An intent that starts a flow -------------------------------------------------------


def test_a_first_message_that_asks_to_order_goes_past_the_menu_to_the_order_flow(chat_with, loja):
    StepFactory(
        chatbot=loja,
        code="menu",
        order=0,
        handler_path=f"{GENERIC}.MenuHandler",
        config={"text": "Olá! O que deseja?", "options": [{"title": "Pedir", "next": "inicio"}]},
    )
    chat = chat_with(loja)

    chat.text("Boa noite, quero fazer um pedido")

    assert chat.conversation.current_step == "selecionar_categoria"
    assert [m.type for m in chat.sent] == ["text", "list"]  # the flow's greeting, the menu


# --- Free text no step expected ---------------------------------------------------------


def test_free_text_a_menu_does_not_understand_twice_names_the_way_out(chat_with, menu_bot):
    chat = chat_with(menu_bot)
    chat.text("oi")

    first = chat.text("xyz")
    assert first[0].text.startswith("Não entendi")
    assert not any("atendente* para falar" in m.text for m in first)

    second = chat.text("xyz de novo")
    assert second[0].text.startswith("Não entendi")
    assert second[0].text.endswith(
        "Se preferir, envie *menu* para ver as opções do início ou *atendente* para falar "
        "com uma pessoa."
    )
    assert second[-1].type == "buttons"  # and the menu again, last: "2" still answers it

    chat.tap("info", "Horário e endereço")  # understood: the count starts over
    chat.text("menu")
    again = chat.text("xyz")
    assert "atendente* para falar" not in again[0].text


def test_a_question_mid_step_is_answered_from_the_knowledge_then_the_step_again(
    chat_with, menu_bot, tenant
):
    KnowledgeEntry.objects.create(
        tenant=tenant, question="Vocês entregam?", answer="Entregamos no bairro todo. 🛵"
    )
    chat = chat_with(menu_bot)
    chat.text("oi")

    answer, menu = chat.text("vocês entregam no centro?")

    assert answer.text == "Entregamos no bairro todo. 🛵"
    assert menu.type == "buttons" and "Como posso ajudar" in menu.text
    assert chat.conversation.current_step == "inicio"


def test_a_question_at_a_step_that_only_says_something_is_answered_then_said_again(
    chat_with, menu_bot, tenant
):
    BusinessProfile.objects.create(tenant=tenant, address="Rua das Flores, 100")
    chat = chat_with(menu_bot)
    chat.text("oi")
    chat.tap("info", "Horário e endereço")

    answer, again = chat.text("qual o endereço?")

    assert answer.text == "Estamos em: Rua das Flores, 100"
    assert "segunda a sábado" in again.text
    assert chat.conversation.current_step == "informacoes"


def test_a_first_question_on_an_assistant_bot_without_a_model_is_answered_or_handed_over(
    chat_with, settings, tenant
):
    from chatbots.tests.ai_support import assistant_bot, padaria_data

    settings.GEMINI_API_KEY = ""
    padaria_data(tenant)
    bot = assistant_bot(tenant)

    chat_with(bot).text("vocês abrem domingo?")
    bicycle = chat_with(bot, phone="5511977776666")
    bicycle.text("vocês vendem bicicleta elétrica?")

    said = [m.text for m in bot_said(bot)]
    assert said[0].startswith("Pode perguntar!")
    assert said[1] == "Aos domingos abrimos das 8h às 12h."
    assert bicycle.texts[-2].startswith("Essa eu vou deixar para a nossa equipe responder")
    assert bicycle.texts[-1].startswith("Você é o número 1 na fila de Atendimento.")
    assert bicycle.conversation.status == Conversation.Status.WAITING
