"""Templates as Meta defines them: Meta's limits before submitting, the preview, and the
components of a send built from the stored definition (chatbots.message_templates)."""

from __future__ import annotations

import pytest

from chatbots import message_templates as mt
from chatbots.models import MessageTemplate
from tests.factories import MessageTemplateFactory


def _template(**fields) -> MessageTemplate:
    base = {
        "name": "pedido_saiu",
        "language": "pt_BR",
        "category": MessageTemplate.Category.UTILITY,
        "body_text": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
        "body_examples": ["Maria", "#42"],
    }
    return MessageTemplate(**{**base, **fields})


def test_a_well_formed_template_has_no_problems():
    template = _template(
        header_format="TEXT",
        header_text="Pedido {{1}}",
        header_example="#42",
        footer_text="Padaria Pão Quente",
        buttons=[
            {"type": "QUICK_REPLY", "text": "Falar com a loja"},
            {
                "type": "URL",
                "text": "Acompanhar",
                "url": "https://loja.com.br/p/{{1}}",
                "example": "42",
            },
            {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+5511987654321"},
            {"type": "COPY_CODE", "example": "VOLTE10"},
        ],
    )

    assert mt.definition_problems(template) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "Pedido Saiu"}, "letras minúsculas"),
        ({"body_text": "x" * 1025}, "1024"),
        ({"body_text": "Olá {{1}}, pedido {{3}}."}, "sem pular"),
        ({"body_text": "{{1}}, seu pedido saiu."}, "começar nem terminar"),
        ({"body_text": "Seu pedido saiu, {{1}}"}, "começar nem terminar"),
        ({"body_text": "Olá {{1}}{{2}} tudo bem?"}, "{{1}}{{2}}"),
        ({"body_examples": ["Maria"]}, "falta 2"),
        ({"footer_text": "y" * 61}, "rodapé"),
        ({"footer_text": "Oi {{1}}"}, "rodapé não pode"),
        (
            {"header_format": "TEXT", "header_text": "A {{1}} e {{2}}", "header_example": "x"},
            "um parâmetro",
        ),
        ({"header_format": "IMAGE"}, "handle"),
        ({"buttons": [{"type": "QUICK_REPLY", "text": "z" * 26}]}, "25"),
        ({"buttons": [{"type": "QUICK_REPLY", "text": f"B{i}"} for i in range(11)]}, "10 botões"),
        (
            {
                "buttons": [
                    {"type": "URL", "text": "Ver", "url": "https://a.com/{{1}}/x", "example": "1"}
                ]
            },
            "no fim",
        ),
        (
            {"buttons": [{"type": "URL", "text": "Ver", "url": "https://a.com/{{1}}"}]},
            "exemplo para o parâmetro do link",
        ),
        ({"buttons": [{"type": "PHONE_NUMBER", "text": "Ligar"}]}, "telefone"),
        ({"buttons": [{"type": "COPY_CODE", "example": "X" * 16}]}, "Copiar código"),
        ({"buttons": [{"type": "FLOW", "text": "Abrir"}]}, "desconhecido"),
    ],
)
def test_it_names_what_meta_would_refuse(fields, expected):
    problems = mt.definition_problems(_template(**fields))

    assert any(expected in p for p in problems), problems


def test_named_parameters_take_lowercase_names_with_examples():
    good = _template(
        parameter_format="NAMED",
        body_text="Olá {{nome}}, seu pedido {{pedido}} saiu.",
        body_examples={"nome": "Maria", "pedido": "#42"},
    )
    bad = _template(
        parameter_format="NAMED", body_text="Olá {{Nome}}, tudo bem?", body_examples={"Nome": "x"}
    )

    assert mt.definition_problems(good) == []
    assert any("minúsculas" in p for p in mt.definition_problems(bad))


def test_an_authentication_template_needs_its_one_copy_code_button():
    template = _template(category="AUTHENTICATION", body_text="", body_examples=[], buttons=[])

    assert any("Copiar código" in p for p in mt.definition_problems(template))
    template.buttons = [{"type": "COPY_CODE", "text": "Copiar código"}]
    assert mt.definition_problems(template) == []


def test_the_preview_is_what_the_customer_reads_filled_with_the_examples():
    template = _template(
        header_format="TEXT",
        header_text="Pedido {{1}}",
        header_example="#42",
        footer_text="Padaria Pão Quente",
        buttons=[{"type": "QUICK_REPLY", "text": "Falar com a loja"}],
    )

    assert mt.preview(template) == (
        "Pedido #42\nOlá Maria, seu pedido #42 saiu para entrega.\nPadaria Pão Quente\n"
        "[Falar com a loja]"
    )


def test_a_send_takes_its_components_from_the_definition():
    template = _template(
        header_format="IMAGE",
        header_example="4::aW1hZ2U=",
        header_media_url="https://loja.com.br/pedido.jpg",
        buttons=[
            {"type": "QUICK_REPLY", "text": "Falar com a loja"},
            {
                "type": "URL",
                "text": "Acompanhar",
                "url": "https://loja.com.br/p/{{1}}",
                "example": "42",
            },
            {"type": "COPY_CODE", "example": "VOLTE10"},
        ],
    )

    filled = mt.fill(template, params=["João", "#7"], buttons=["7"])

    assert filled.components == [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://loja.com.br/pedido.jpg"}}],
        },
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "João"}, {"type": "text", "text": "#7"}],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "7"}],
        },
        {
            "type": "button",
            "sub_type": "copy_code",
            "index": "2",
            "parameters": [{"type": "coupon_code", "coupon_code": "VOLTE10"}],
        },
    ]
    assert filled.text.startswith("https://loja.com.br/pedido.jpg\nOlá João, seu pedido #7 saiu")


def test_a_named_template_sends_its_parameter_names():
    template = _template(
        parameter_format="NAMED",
        body_text="Olá {{nome}}, seu pedido {{pedido}} saiu.",
        body_examples={"nome": "Maria", "pedido": "#42"},
    )

    by_name = mt.fill(template, params={"pedido": "#9", "nome": "Ana"})
    in_order = mt.fill(template, params=["Ana", "#9"])

    assert (
        by_name.components
        == in_order.components
        == [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana", "parameter_name": "nome"},
                    {"type": "text", "text": "#9", "parameter_name": "pedido"},
                ],
            }
        ]
    )
    assert by_name.text == "Olá Ana, seu pedido #9 saiu."


@pytest.mark.parametrize(
    ("fields", "kwargs"),
    [
        ({}, {"params": ["Maria"]}),
        ({}, {"params": ["Maria", " "]}),
        (
            {"header_format": "TEXT", "header_text": "Pedido {{1}}", "header_example": "1"},
            {"params": ["a", "b"]},
        ),
        ({"header_format": "VIDEO", "header_example": "4::dmlk"}, {"params": ["a", "b"]}),
        (
            {
                "buttons": [
                    {"type": "URL", "text": "Ver", "url": "https://a.com/{{1}}", "example": "1"}
                ]
            },
            {"params": ["a", "b"]},
        ),
    ],
)
def test_a_missing_parameter_is_refused_before_sending(fields, kwargs):
    with pytest.raises(mt.TemplateParamError):
        mt.fill(_template(**fields), **kwargs)


def test_the_submit_body_carries_the_examples_meta_reviews():
    template = _template(
        parameter_format="NAMED",
        body_text="Olá {{nome}}, tudo certo?",
        body_examples={"nome": "Maria"},
        buttons=[{"type": "URL", "text": "Ver", "url": "https://a.com/{{1}}", "example": "x1"}],
    )

    body = mt.submit_body(template)

    assert body["parameter_format"] == "NAMED"
    assert body["components"] == [
        {
            "type": "BODY",
            "text": "Olá {{nome}}, tudo certo?",
            "example": {"body_text_named_params": [{"param_name": "nome", "example": "Maria"}]},
        },
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "URL", "text": "Ver", "url": "https://a.com/{{1}}", "example": ["x1"]}
            ],
        },
    ]


def test_a_template_listed_by_meta_becomes_its_fields():
    listed = {
        "id": "920070352646140",
        "name": "2023_april_promo",
        "language": "en_US",
        "status": "REJECTED",
        "category": "MARKETING",
        "rejected_reason": "INVALID_FORMAT",
        "components": [
            {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
            {
                "example": {"body_text": [["Mark", "FALL25"]]},
                "text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}}.",
                "type": "BODY",
            },
            {"text": "Not interested? Tap Stop Promotions", "type": "FOOTER"},
            {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"},
        ],
    }

    fields = mt.fields_from_meta(listed)

    assert fields["status"] == "REJECTED"
    assert fields["status_reason"] == "INVALID_FORMAT"
    assert fields["body_examples"] == ["Mark", "FALL25"]
    assert fields["param_count"] == 2
    assert fields["buttons"] == [{"type": "QUICK_REPLY", "text": "Stop promotions"}]
    assert mt.preview(MessageTemplate(**{k: v for k, v in fields.items()}, name="x")).startswith(
        "Fall Sale\nHi Mark, our Fall Sale is on! Use promo code FALL25."
    )


def test_a_template_typed_by_hand_keeps_its_parameter_count(db):
    template = MessageTemplateFactory(param_count=2)

    assert mt.body_params(template) == ["1", "2"]


def test_filled_components_are_valid_for_metas_send_schema():
    from chatbots.providers.meta import build_body
    from chatbots.tests.test_provider_meta_schema import schema_errors
    from chatbots.wire import Template

    template = _template(
        parameter_format="NAMED",
        header_format="DOCUMENT",
        header_example="4::cGRm",
        body_text="Olá {{nome}}, seu recibo do pedido {{pedido}} está acima.",
        body_examples={"nome": "Maria", "pedido": "42"},
        buttons=[
            {"type": "QUICK_REPLY", "text": "Obrigado"},
            {"type": "URL", "text": "Ver", "url": "https://loja.com.br/r/{{1}}", "example": "42"},
        ],
    )
    filled = mt.fill(
        template,
        params={"nome": "Ana", "pedido": "7"},
        header="https://loja.com.br/recibo-7.pdf",
        buttons=["7"],
    )

    body = build_body("5511987654321", Template(name="recibo", components=filled.components))

    assert schema_errors(body) == ""
    assert body["template"]["components"][0]["parameters"] == [
        {"type": "document", "document": {"link": "https://loja.com.br/recibo-7.pdf"}}
    ]
