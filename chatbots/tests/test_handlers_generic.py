"""The handlers configured without code: menu, message, question, end and handoff."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from chatbots.handlers import registry
from chatbots.handlers.base import Context
from chatbots.handlers.generic import (
    EndHandler,
    HandoffHandler,
    MenuHandler,
    MessageHandler,
    QuestionHandler,
)
from chatbots.models import Chatbot, Conversation, Step
from chatbots.wire import Buttons, InboundMessage, ListMessage, Text

_ids = itertools.count(1)

CARDAPIO = {
    "text": "O que você deseja?",
    "options": [
        {"title": "Pizzas", "next": "pizzas"},
        {"title": "Bebidas", "next": "bebidas"},
        {"title": "Falar com atendente", "next": "atendente"},
    ],
}


@pytest.fixture
def chatbot(tenant):
    return Chatbot.objects.create(tenant=tenant, name="Pizzaria")


@pytest.fixture
def conversation(chatbot, cliente):
    return Conversation.objects.create(tenant=chatbot.tenant, chatbot=chatbot, cliente=cliente)


@pytest.fixture
def run(chatbot, conversation, cliente):
    """run(Handler, config, text=..., reply_id=...) -> the Reply, as the engine would get it.

    Without text or reply_id it calls enter(); with them, handle() with an inbound message.
    The config goes through validate_step first, as every saved step does.
    """

    def run(handler_cls, config, *, text=None, reply_id="", code="menu", state=None):
        registry.validate_step(handler_path=handler_cls.path(), config=config)
        step, _created = Step.objects.update_or_create(
            chatbot=chatbot,
            code=code,
            defaults={
                "tenant": chatbot.tenant,
                "handler_path": handler_cls.path(),
                "config": config,
            },
        )
        message = None
        if text is not None or reply_id:
            message = InboundMessage(
                provider="stub",
                external_id=f"in-{next(_ids)}",
                bot_key="stub",
                timestamp=timezone.now(),
                type="interactive" if reply_id else "text",
                from_phone=cliente.telefone,
                text=text or "",
                reply_id=reply_id,
            )
        ctx = Context(
            chatbot=chatbot,
            step=step,
            conversation=conversation,
            cliente=cliente,
            message=message,
            state=dict(state or {}),
        )
        handler = registry.load_handler(handler_cls.path())()
        return handler.enter(ctx) if message is None else handler.handle(ctx)

    return run


def _refusal(handler_cls, config) -> str:
    with pytest.raises(ValidationError) as info:
        registry.validate_step(handler_path=handler_cls.path(), config=config)
    return " | ".join(info.value.message_dict["config"])


def _options(n: int, *, title="Opção {n}", **extra) -> list[dict]:
    return [{"title": title.format(n=i), "next": f"etapa-{i}", **extra} for i in range(1, n + 1)]


# --- Menu: how it is sent ------------------------------------------------------------------


def test_a_menu_of_up_to_three_options_is_sent_as_reply_buttons(run):
    reply = run(MenuHandler, CARDAPIO)
    [message] = reply.messages
    assert isinstance(message, Buttons)
    assert message.body == "O que você deseja?"
    assert [b.title for b in message.buttons] == ["Pizzas", "Bebidas", "Falar com atendente"]
    assert [b.id for b in message.buttons] == ["menu.1", "menu.2", "menu.3"]
    assert reply.next_step is None


def test_a_menu_of_four_to_ten_options_is_sent_as_a_list(run):
    reply = run(MenuHandler, {"text": "Escolha", "options": _options(10)})
    [message] = reply.messages
    assert isinstance(message, ListMessage)
    assert len(message.sections) == 1
    assert len(message.rows) == 10
    assert message.button == "Ver opções"


def test_a_menu_with_descriptions_is_sent_as_a_list_even_when_short(run):
    config = {
        "text": "Escolha",
        "button": "Cardápio",
        "options": [{"title": "Pizzas", "description": "Grandes, 8 fatias", "next": "pizzas"}],
    }
    [message] = run(MenuHandler, config).messages
    assert isinstance(message, ListMessage)
    assert message.button == "Cardápio"
    assert message.rows[0].description == "Grandes, 8 fatias"


def test_a_menu_of_more_than_ten_options_is_sent_as_numbered_text(run):
    [message] = run(MenuHandler, {"text": "Escolha o sabor:", "options": _options(12)}).messages
    assert isinstance(message, Text)
    assert message.body.startswith("Escolha o sabor:\n\n1. Opção 1\n2. Opção 2\n")
    assert message.body.endswith("12. Opção 12")


def test_configured_option_ids_are_the_reply_ids(run):
    config = {
        "text": "Confirma?",
        "options": [
            {"id": "sim", "title": "Sim", "next": "fim"},
            {"id": "nao", "title": "Não", "next": "menu"},
        ],
    }
    [message] = run(MenuHandler, config).messages
    assert [b.id for b in message.buttons] == ["sim", "nao"]


# --- Menu: understanding the answer ----------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"reply_id": "menu.1", "text": "Pizzas"},
        {"text": "1"},
        {"text": "pizza"},
        {"text": "PIZZAS"},
        {"text": "opção 1"},
        {"text": "quero pizza"},
    ],
)
def test_the_menu_understands_a_tap_a_number_or_the_name(run, answer):
    reply = run(MenuHandler, CARDAPIO, **answer)
    assert reply.next_step == "pizzas"
    assert reply.messages == []
    assert reply.state == {"last_choice": "Pizzas", "last_choice_id": "menu.1"}


def test_the_menu_matches_accents_either_way(run):
    config = {
        "text": "Escolha",
        "options": [{"title": "Açaí", "next": "acai"}, {"title": "Pão", "next": "pao"}],
    }
    assert run(MenuHandler, config, text="acai").next_step == "acai"
    assert run(MenuHandler, config, text="PÃO").next_step == "pao"


def test_the_menu_saves_the_choice_under_save_as(run):
    config = {**CARDAPIO, "save_as": "categoria"}
    reply = run(MenuHandler, config, text="bebidas")
    assert reply.next_step == "bebidas"
    assert reply.state["categoria"] == "Bebidas"


def test_the_menu_says_it_did_not_understand_and_shows_itself_again(run):
    reply = run(MenuHandler, CARDAPIO, text="hambúrguer")
    assert reply.next_step is None
    assert reply.state == {}
    first, second = reply.messages
    assert isinstance(first, Text) and first.body.startswith("Não entendi")
    assert isinstance(second, Buttons) and second.body == "O que você deseja?"


def test_the_menu_uses_the_configured_invalid_text(run):
    reply = run(MenuHandler, {**CARDAPIO, "invalid_text": "Toque numa opção 🙂"}, text="?")
    assert reply.messages[0].body == "Toque numa opção 🙂"


def test_a_numbered_text_menu_understands_numbers_beyond_ten(run):
    reply = run(MenuHandler, {"text": "Escolha", "options": _options(12)}, text="11")
    assert reply.next_step == "etapa-11"


# --- Menu: what is refused when the step is saved ------------------------------------------------


def test_a_menu_needs_its_text():
    message = _refusal(MenuHandler, {"options": CARDAPIO["options"]})
    assert "Falta “text”" in message


def test_a_menu_needs_options():
    assert "“options” deve ser uma lista" in _refusal(MenuHandler, {"text": "Oi", "options": []})


def test_a_button_title_over_20_characters_is_refused_not_cut():
    options = [{"title": "Falar com um atendente", "next": "x"}, {"title": "Sair", "next": "y"}]
    message = _refusal(MenuHandler, {"text": "Oi", "options": options})
    assert "options[1].title" in message
    assert "22 caracteres" in message and "no máximo 20" in message


def test_the_same_title_is_fine_in_a_list_of_four_options():
    options = [{"title": "Falar com um atendente", "next": "x"}, *_options(3)]
    registry.validate_step(
        handler_path=MenuHandler.path(), config={"text": "Oi", "options": options}
    )
    options[0]["title"] = "x" * 25
    assert "no máximo 24" in _refusal(MenuHandler, {"text": "Oi", "options": options})


def test_eleven_options_are_fine_as_numbered_text_but_empty_titles_are_not():
    options = _options(11)
    registry.validate_step(
        handler_path=MenuHandler.path(), config={"text": "Oi", "options": options}
    )
    options[4]["title"] = "  "
    message = _refusal(MenuHandler, {"text": "Oi", "options": options})
    assert "options[5].title" in message and "em branco" in message


def test_a_numbered_menu_longer_than_a_whatsapp_text_is_refused():
    options = _options(40, title="Opção {n} " + "z" * 100)
    assert "não cabe numa mensagem" in _refusal(MenuHandler, {"text": "Oi", "options": options})


def test_a_menu_refuses_duplicate_titles_missing_next_and_unknown_keys():
    config = {
        "text": "Oi",
        "botao": "Ver",
        "options": [
            {"title": "Pizzas", "next": "a"},
            {"title": "pizzas", "next": "b"},
            {"title": "Bebidas"},
            {"title": "Doces", "next": "tem espaço"},
        ],
    }
    message = _refusal(MenuHandler, config)
    assert "Chave desconhecida “botao”" in message
    assert "options[2].title “pizzas” repete o título da opção 1" in message
    assert "Falta “options[3].next”" in message
    assert "“options[4].next” deve ser o código de uma etapa" in message


def test_a_menu_body_over_1024_characters_is_refused_for_buttons():
    assert "no máximo 1024" in _refusal(MenuHandler, {**CARDAPIO, "text": "a" * 1025})


def test_a_list_button_label_over_20_characters_is_refused():
    config = {"text": "Oi", "options": _options(5), "button": "Clique aqui para ver tudo"}
    assert "“button” tem 25 caracteres" in _refusal(MenuHandler, config)


def test_the_menu_declares_the_steps_it_moves_to():
    assert MenuHandler.referenced_steps(CARDAPIO) == ["pizzas", "bebidas", "atendente"]


# --- Message ---------------------------------------------------------------------------------


def test_a_message_says_its_text_and_goes_on(run):
    reply = run(MessageHandler, {"text": "Abrimos às 18h.", "next": "menu-principal"}, code="info")
    assert [m.body for m in reply.messages] == ["Abrimos às 18h."]
    assert reply.next_step == "menu-principal"


def test_a_message_without_next_stays_and_says_it_again(run):
    config = {"text": "Digite *menu* para voltar."}
    assert run(MessageHandler, config, code="info").next_step is None
    reply = run(MessageHandler, config, code="info", text="oi?")
    assert [m.body for m in reply.messages] == ["Digite *menu* para voltar."]
    assert reply.next_step is None
    assert reply.not_understood  # nothing was asked: the question may be answered instead


def test_a_message_needs_text_that_fits_whatsapp():
    assert "Falta “text”" in _refusal(MessageHandler, {})
    assert "no máximo 4096" in _refusal(MessageHandler, {"text": "a" * 4097})


# --- Question --------------------------------------------------------------------------------


def _question(kind: str, **extra) -> dict:
    return {"text": "Pergunta?", "save_as": "resposta", "type": kind, "next": "seguinte", **extra}


def test_a_question_asks_and_saves_the_answer(run):
    config = {"text": "Qual o seu nome?", "save_as": "nome", "next": "email"}
    assert [m.body for m in run(QuestionHandler, config, code="nome").messages] == [
        "Qual o seu nome?"
    ]
    reply = run(QuestionHandler, config, code="nome", text="  Maria Souza ")
    assert reply.state == {"nome": "Maria Souza"}
    assert reply.next_step == "email"
    assert reply.messages == []


@pytest.mark.parametrize(
    "kind, extra, typed, saved",
    [
        ("email", {}, "Maria@Example.COM", "Maria@example.com"),
        ("phone", {}, "(11) 98765-4321", "5511987654321"),
        ("phone", {}, "+55 11 8765-4321", "5511987654321"),
        ("date", {}, "25/12/2025", "2025-12-25"),
        ("date", {}, "5-3-26", "2026-03-05"),
        ("number", {}, "12,5", "12.5"),
        ("number", {}, "1.234,56", "1234.56"),
        ("number", {"min": 1, "max": 10}, "10", "10"),
        ("integer", {}, "3", 3),
        ("integer", {"min": 1}, "1.000", 1000),
        ("regex", {"regex": r"\d{5}-?\d{3}"}, "01310-100", "01310-100"),
    ],
)
def test_a_question_accepts_and_normalizes_valid_answers(run, kind, extra, typed, saved):
    reply = run(QuestionHandler, _question(kind, **extra), code="q", text=typed)
    assert reply.state == {"resposta": saved}
    assert reply.next_step == "seguinte"


@pytest.mark.parametrize(
    "kind, extra, typed, error",
    [
        ("text", {}, "", "Preciso de uma resposta"),
        ("email", {}, "maria@", "e-mail não parece válido"),
        ("phone", {}, "12", "telefone não parece válido"),
        ("date", {}, "31/02/2025", "dd/mm/aaaa"),
        ("date", {}, "amanhã", "dd/mm/aaaa"),
        ("number", {}, "doze", "Não entendi o número"),
        ("number", {"min": 1, "max": 10}, "10,5", "entre 1 e 10"),
        ("integer", {"min": 2}, "1", "a partir de 2"),
        ("integer", {}, "2,5", "número inteiro"),
        ("regex", {"regex": r"\d{5}-?\d{3}"}, "0131", "formato esperado"),
    ],
)
def test_a_question_refuses_invalid_answers_and_stays(run, kind, extra, typed, error):
    reply = run(QuestionHandler, _question(kind, **extra), code="q", text=typed)
    assert reply.next_step is None
    assert reply.state == {}
    [message] = reply.messages
    assert error in message.body


def test_a_question_uses_the_configured_error_text(run):
    config = _question("integer", error_text="Quantas pessoas? Só o número, por favor.")
    reply = run(QuestionHandler, config, code="q", text="muitas")
    assert reply.messages[0].body == "Quantas pessoas? Só o número, por favor."


def test_a_question_refuses_a_bad_regex_and_other_bad_configs():
    assert "“regex” não é uma expressão regular válida" in _refusal(
        QuestionHandler, _question("regex", regex="(abc")
    )
    assert "Falta “regex”" in _refusal(QuestionHandler, _question("regex"))
    assert "“type” deve ser um de" in _refusal(QuestionHandler, _question("cpf"))
    assert "“min” é maior que “max”" in _refusal(QuestionHandler, _question("number", min=5, max=1))
    assert 'só vale com "type" number ou integer' in _refusal(
        QuestionHandler, _question("text", max=3)
    )
    message = _refusal(QuestionHandler, {"text": "Nome?"})
    assert "Falta “save_as”" in message and "Falta “next”" in message
    assert "deve ser um nome simples" in _refusal(
        QuestionHandler, _question("text", save_as="e-mail")
    )


# --- End and handoff ---------------------------------------------------------------------------


def test_the_end_step_says_goodbye_and_ends(run):
    reply = run(EndHandler, {"text": "Obrigado! Até logo."}, code="fim")
    assert [m.body for m in reply.messages] == ["Obrigado! Até logo."]
    assert reply.end is True


def test_the_end_step_may_end_silently(run):
    reply = run(EndHandler, {}, code="fim")
    assert reply.messages == [] and reply.end is True


def test_the_handoff_step_warns_the_customer_and_hands_over(run):
    reply = run(HandoffHandler, {}, code="atendente")
    assert reply.handoff is True
    assert reply.messages[0].body.startswith("Vou te transferir para um atendente")
    reply = run(HandoffHandler, {"text": "Já chamo alguém!"}, code="atendente", text="oi")
    assert reply.handoff is True and reply.messages[0].body == "Já chamo alguém!"


def test_end_and_handoff_refuse_unknown_keys():
    assert "Chave desconhecida “texto”" in _refusal(EndHandler, {"texto": "tchau"})
    assert "Chave desconhecida “fila”" in _refusal(HandoffHandler, {"fila": "vendas"})


def test_every_generic_handler_documents_its_config_with_an_example():
    for handler in (MenuHandler, MessageHandler, QuestionHandler, EndHandler, HandoffHandler):
        assert str(handler.label)
        assert "Exemplo" in str(handler.config_help)
