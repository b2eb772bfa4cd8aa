"""WhatsApp's limits are enforced when a message is built, never discovered from Meta's 400."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatbots.wire import (
    Button,
    Buttons,
    InboundMessage,
    InboundStatus,
    ListMessage,
    Media,
    MessageLimitError,
    Row,
    Section,
    Template,
    Text,
    outbound_from_dict,
)


def _rows(n: int, start: int = 0) -> list[Row]:
    return [Row(id=f"r{i}", title=f"Linha {i}") for i in range(start, start + n)]


def test_it_refuses_a_fourth_reply_button():
    buttons = [Button(id=f"b{i}", title=f"Opção {i}") for i in range(4)]
    with pytest.raises(MessageLimitError, match="4 reply buttons; WhatsApp allows 1 to 3"):
        Buttons(body="Escolha", buttons=buttons)


def test_it_refuses_a_message_with_no_buttons():
    with pytest.raises(MessageLimitError, match="0 reply buttons"):
        Buttons(body="Escolha", buttons=[])


def test_it_refuses_a_21_character_button_title():
    with pytest.raises(MessageLimitError, match="button title has 21 characters.*at most 20"):
        Button(id="b1", title="x" * 21)
    assert Button(id="b1", title="x" * 20).title == "x" * 20


def test_it_refuses_a_25_character_list_row_title():
    with pytest.raises(MessageLimitError, match="list row title has 25 characters.*at most 24"):
        Row(id="r1", title="y" * 25)


def test_it_refuses_a_73_character_row_description():
    with pytest.raises(MessageLimitError, match="list row description has 73.*at most 72"):
        Row(id="r1", title="Pizza", description="d" * 73)


def test_it_refuses_11_rows_across_two_sections():
    sections = [Section(title="Pizzas", rows=_rows(6)), Section(title="Bebidas", rows=_rows(5, 6))]
    with pytest.raises(
        MessageLimitError, match="11 list rows; WhatsApp allows at most 10 in total"
    ):
        ListMessage(body="Cardápio", button="Ver", sections=sections)


def test_it_accepts_10_rows_across_two_sections():
    sections = [Section(title="Pizzas", rows=_rows(5)), Section(title="Bebidas", rows=_rows(5, 5))]
    message = ListMessage(body="Cardápio", button="Ver", sections=sections)
    assert len(message.rows) == 10


def test_it_refuses_a_4097_character_text():
    with pytest.raises(MessageLimitError, match="text body has 4097 characters.*at most 4096"):
        Text(body="a" * 4097)
    assert len(Text(body="a" * 4096).body) == 4096


def test_it_refuses_a_1025_character_interactive_body():
    with pytest.raises(MessageLimitError, match="interactive body has 1025.*at most 1024"):
        Buttons(body="a" * 1025, buttons=[Button(id="b", title="Ok")])
    with pytest.raises(MessageLimitError, match="interactive body has 1025.*at most 1024"):
        ListMessage(body="a" * 1025, button="Ver", sections=[Section(title="", rows=_rows(1))])


def test_it_refuses_a_list_button_label_over_20_characters():
    with pytest.raises(MessageLimitError, match="list button has 21"):
        ListMessage(body="Menu", button="b" * 21, sections=[Section(title="", rows=_rows(1))])


def test_it_refuses_duplicate_button_ids_and_titles():
    with pytest.raises(MessageLimitError, match="unique"):
        Buttons(body="Escolha", buttons=[Button(id="a", title="Sim"), Button(id="a", title="Não")])
    with pytest.raises(MessageLimitError, match="unique"):
        Buttons(body="Escolha", buttons=[Button(id="a", title="Sim"), Button(id="b", title="Sim")])


def test_it_refuses_duplicate_row_ids_across_sections():
    sections = [
        Section(title="A", rows=[Row(id="x", title="Um")]),
        Section(title="B", rows=[Row(id="x", title="Dois")]),
    ]
    with pytest.raises(MessageLimitError, match="list row ids must be unique"):
        ListMessage(body="Menu", button="Ver", sections=sections)


def test_it_refuses_untitled_sections_when_there_are_several():
    sections = [Section(title="A", rows=_rows(1)), Section(title="", rows=_rows(1, 1))]
    with pytest.raises(MessageLimitError, match="every section needs a title"):
        ListMessage(body="Menu", button="Ver", sections=sections)


def test_it_refuses_an_empty_section():
    with pytest.raises(MessageLimitError, match="at least one row"):
        Section(title="Vazia", rows=[])


def test_it_refuses_empty_bodies():
    with pytest.raises(MessageLimitError, match="text body must not be empty"):
        Text(body="   ")
    with pytest.raises(MessageLimitError, match="interactive body must not be empty"):
        Buttons(body="", buttons=[Button(id="b", title="Ok")])
    with pytest.raises(MessageLimitError, match="button title must not be empty"):
        Button(id="b", title="")


def test_it_refuses_media_with_both_link_and_id_or_neither():
    with pytest.raises(MessageLimitError, match="exactly one of link or media_id"):
        Media(media_type="image", link="https://example.com/a.jpg", media_id="123")
    with pytest.raises(MessageLimitError, match="exactly one of link or media_id"):
        Media(media_type="image")


def test_it_refuses_unknown_media_types_and_captions_on_audio():
    with pytest.raises(MessageLimitError, match="unknown media type 'gif'"):
        Media(media_type="gif", media_id="1")
    with pytest.raises(MessageLimitError, match="audio messages cannot carry a caption"):
        Media(media_type="audio", media_id="1", caption="ouça")
    with pytest.raises(MessageLimitError, match="caption has 1025"):
        Media(media_type="image", media_id="1", caption="c" * 1025)


def test_it_refuses_headers_and_footers_over_60_characters():
    with pytest.raises(MessageLimitError, match="header has 61"):
        Buttons(body="Oi", buttons=[Button(id="b", title="Ok")], header="h" * 61)
    with pytest.raises(MessageLimitError, match="footer has 61"):
        Buttons(body="Oi", buttons=[Button(id="b", title="Ok")], footer="f" * 61)


@pytest.mark.parametrize(
    "message",
    [
        Text(body="Olá, Maria!", preview_url=True),
        Buttons(
            body="Confirma?",
            buttons=[Button(id="sim", title="Sim"), Button(id="nao", title="Não")],
            header="Pedido 42",
            footer="Padaria",
        ),
        ListMessage(
            body="Cardápio",
            button="Ver opções",
            sections=[
                Section(title="Pizzas", rows=[Row(id="p1", title="Calabresa", description="G")]),
                Section(title="Bebidas", rows=[Row(id="b1", title="Guaraná")]),
            ],
            header="Pizzaria",
        ),
        Media(media_type="document", link="https://example.com/a.pdf", filename="a.pdf"),
        Media(media_type="image", media_id="998877", caption="Nosso cardápio"),
        Template(name="lembrete_consulta", params=["Maria", "amanhã às 10h"]),
    ],
    ids=lambda m: m.kind,
)
def test_it_round_trips_every_outbound_kind_through_a_dict(message):
    data = message.to_dict()
    assert data["kind"] == message.kind
    again = outbound_from_dict(data)
    assert type(again) is type(message)
    assert again == message
    assert again.preview == message.preview


def test_it_refuses_an_unknown_outbound_kind():
    with pytest.raises(MessageLimitError, match="unknown outbound message kind 'carousel'"):
        outbound_from_dict({"kind": "carousel", "body": "x"})


def test_it_revalidates_limits_when_rebuilding_from_a_dict():
    data = Text(body="ok").to_dict()
    data["body"] = "a" * 5000
    with pytest.raises(MessageLimitError, match="at most 4096"):
        outbound_from_dict(data)


def test_it_round_trips_inbound_messages_and_statuses():
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    message = InboundMessage(
        provider="meta",
        external_id="wamid.1",
        bot_key="123",
        timestamp=when,
        type="interactive",
        from_phone="5511987654321",
        text="Pizzas",
        reply_id="menu.1",
        data={"raw_type": "list_reply"},
    )
    assert InboundMessage.from_dict(message.to_dict()) == message
    status = InboundStatus(
        provider="meta", external_id="wamid.2", bot_key="123", status="read", timestamp=when
    )
    assert InboundStatus.from_dict(status.to_dict()) == status


def test_previews_number_the_options_for_text_only_providers():
    buttons = Buttons(
        body="Confirma?", buttons=[Button(id="s", title="Sim"), Button(id="n", title="Não")]
    )
    assert buttons.preview == "Confirma?\n1. Sim\n2. Não"
