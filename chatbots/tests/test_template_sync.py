"""Templates submitted, synced and sent against a fake Graph API on 127.0.0.1, every body
checked against Meta's OpenAPI description (tests/corpus/meta-openapi)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chatbots import template_sync
from chatbots.models import Conversation, Message, MessageTemplate
from chatbots.outbox import Template, send_to_customer
from chatbots.tests.template_support import WABA, create_errors, waba_bot
from chatbots.tests.test_provider_meta_schema import schema_errors
from tests.factories import ClienteFactory
from tests.fakes import evolution as evo


@pytest.fixture
def bot(tenant, fake_graph):
    return waba_bot(tenant)


@pytest.fixture
def definition(bot):
    return MessageTemplate.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        name="pedido_saiu",
        language="pt_BR",
        category="UTILITY",
        purpose="order_update",
        status=MessageTemplate.Status.DRAFT,
        header_format="TEXT",
        header_text="Pedido {{1}}",
        header_example="#42",
        body_text="Olá {{1}}, seu pedido {{2}} saiu para entrega.",
        body_examples=["Maria", "#42"],
        footer_text="Padaria Pão Quente",
        buttons=[
            {"type": "QUICK_REPLY", "text": "Falar com a loja"},
            {
                "type": "URL",
                "text": "Acompanhar",
                "url": "https://padaria.com.br/pedido/{{1}}",
                "example": "42",
            },
            {"type": "PHONE_NUMBER", "text": "Ligar", "phone_number": "+5511987654321"},
        ],
    )


def test_the_validator_rejects_a_broken_template_body():
    assert create_errors({"name": "x", "language": "pt_BR", "components": "BODY"}) != ""
    assert create_errors({"name": 1}) != ""


def test_a_template_is_submitted_with_a_body_metas_schema_accepts(fake_graph, definition):
    template_sync.template_submit(template=definition)

    (request,) = fake_graph.requests
    assert (request.method, request.path) == ("POST", f"/v23.0/{WABA}/message_templates")
    assert request.headers["Authorization"] == "Bearer EAAG-tk"
    assert create_errors(request.json) == ""
    assert request.json["components"][1] == {
        "type": "BODY",
        "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega.",
        "example": {"body_text": [["Maria", "#42"]]},
    }
    definition.refresh_from_db()
    assert definition.meta_id == fake_graph.templates[WABA][0]["id"]
    assert (definition.status, definition.approved) == ("PENDING", False)


def test_a_definition_meta_would_refuse_never_leaves(fake_graph, definition):
    definition.body_text = "{{1}} seu pedido {{2}} saiu"

    with pytest.raises(template_sync.TemplateInvalid) as refused:
        template_sync.template_submit(template=definition)

    assert any("começar nem terminar" in p for p in refused.value.problems)
    assert fake_graph.requests == []


def test_an_edit_goes_to_the_template_id_and_back_to_review(fake_graph, definition):
    template_sync.template_submit(template=definition)
    fake_graph.set_template_status(WABA, "pedido_saiu", "APPROVED")
    template_sync.templates_sync(chatbot=definition.chatbot)
    definition.refresh_from_db()
    definition.footer_text = "Padaria Pão Quente – desde 1990"

    template_sync.template_submit(template=definition)

    edit = fake_graph.requests[-1]
    assert (edit.method, edit.path) == ("POST", f"/v23.0/{definition.meta_id}")
    assert create_errors(edit.json) == ""
    definition.refresh_from_db()
    assert (definition.status, definition.approved) == ("PENDING", False)


def test_the_sync_brings_every_template_with_its_status_even_those_made_at_meta(
    fake_graph, definition
):
    template_sync.template_submit(template=definition)
    fake_graph.set_template_status(WABA, "pedido_saiu", "APPROVED")
    fake_graph.add_template(
        WABA,
        name="lembrete",
        language="pt_BR",
        category="UTILITY",
        status="REJECTED",
        rejected_reason="INVALID_FORMAT",
        components=[
            {"type": "BODY", "text": "Oi {{1}}, até amanhã!", "example": {"body_text": [["Ana"]]}}
        ],
    )
    fake_graph.add_template(
        WABA,
        name="hello_world",
        language="en_US",
        status="APPROVED",
        category="UTILITY",
        components=[{"type": "BODY", "text": "Hello"}],
    )

    result = template_sync.templates_sync(chatbot=definition.chatbot)

    assert sorted(result.created) == ["hello_world (en_US)", "lembrete (pt_BR)"]
    lists = [r for r in fake_graph.requests if r.method == "GET"]
    assert len(lists) == 2  # two pages: the cursor was followed
    by_name = {t.name: t for t in MessageTemplate.objects.filter(chatbot=definition.chatbot)}
    assert (by_name["pedido_saiu"].status, by_name["pedido_saiu"].approved) == ("APPROVED", True)
    assert by_name["pedido_saiu"].purpose == "order_update"  # ours, kept
    assert (by_name["lembrete"].status, by_name["lembrete"].approved) == ("REJECTED", False)
    assert by_name["lembrete"].status_reason == "INVALID_FORMAT"
    assert by_name["lembrete"].param_count == 1
    assert by_name["hello_world"].approved

    fake_graph.templates[WABA] = [t for t in fake_graph.templates[WABA] if t["name"] != "lembrete"]
    result = template_sync.templates_sync(chatbot=definition.chatbot)
    assert result.gone == ["lembrete (pt_BR)"]
    assert MessageTemplate.objects.get(name="lembrete").status == "DELETED"


def test_a_failed_sync_says_why_and_changes_nothing(fake_graph, definition):
    fake_graph.fail_next(code=190)

    result = template_sync.templates_sync(chatbot=definition.chatbot)

    assert result.error.startswith("190")
    definition.refresh_from_db()
    assert definition.status == "DRAFT"


def test_delete_removes_it_at_meta_and_here(fake_graph, definition):
    template_sync.template_submit(template=definition)

    template_sync.template_delete(template=definition)

    delete = fake_graph.requests[-1]
    assert delete.method == "DELETE"
    assert delete.query == {"name": ["pedido_saiu"], "hsm_id": [definition.meta_id]}
    assert fake_graph.templates[WABA] == []
    assert not MessageTemplate.objects.filter(name="pedido_saiu").exists()


# --- Sending -----------------------------------------------------------------------------------


@pytest.fixture
def approved(definition):
    MessageTemplate.objects.filter(pk=definition.pk).update(status="APPROVED", approved=True)
    return definition


@pytest.fixture
def quiet_customer(tenant, bot):
    cliente = ClienteFactory(tenant=tenant, telefone="5511987654321")
    Conversation.objects.create(
        tenant=tenant,
        chatbot=bot,
        cliente=cliente,
        last_customer_message_at=timezone.now() - timedelta(days=2),
    )
    return cliente


def test_a_template_is_sent_with_its_components_from_the_definition(
    fake_graph, celery_eager, django_capture_on_commit_callbacks, approved, quiet_customer, bot
):
    template = Template(name="pedido_saiu", params=["Maria", "#42"], header="#42", buttons=["42"])

    with django_capture_on_commit_callbacks(execute=True):
        row = send_to_customer(chatbot=bot, cliente=quiet_customer, message=template)

    (send,) = fake_graph.sends
    assert schema_errors(send.json) == ""
    assert send.json["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "text", "text": "#42"}]},
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "#42"}],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "1",
            "parameters": [{"type": "text", "text": "42"}],
        },
    ]
    assert Message.objects.get(pk=row.pk).status == Message.Status.SENT


@pytest.mark.parametrize(
    "template",
    [
        Template(name="pedido_saiu", params=["Maria"], header="#42", buttons=["42"]),
        Template(name="pedido_saiu", params=["Maria", "#42"], buttons=["42"]),
        Template(name="pedido_saiu", params=["Maria", "#42"], header="#42"),
    ],
    ids=["body", "header", "url_button"],
)
def test_a_send_missing_a_parameter_is_refused_before_reaching_meta(
    fake_graph,
    celery_eager,
    django_capture_on_commit_callbacks,
    approved,
    quiet_customer,
    bot,
    template,
):
    with django_capture_on_commit_callbacks(execute=True):
        row = send_to_customer(chatbot=bot, cliente=quiet_customer, message=template)

    row.refresh_from_db()
    assert (row.status, row.error_code) == (Message.Status.FAILED, "template_params_mismatch")
    assert "pedido_saiu" in row.error_detail
    assert fake_graph.requests == []


def test_a_text_only_provider_sends_the_rendered_text(
    fake_evolution, celery_eager, django_capture_on_commit_callbacks, tenant
):
    """Evolution (and Whaticket) have no templates: the customer reads the filled text."""
    bot = evo.evolution_bot(tenant, fake_evolution, name="Loja")
    MessageTemplate.objects.create(
        tenant=tenant,
        chatbot=bot,
        name="pedido_saiu",
        status="APPROVED",
        approved=True,
        body_text="Olá {{1}}, seu pedido {{2}} saiu.",
        body_examples=["Maria", "#1"],
        buttons=[{"type": "QUICK_REPLY", "text": "Falar com a loja"}],
    )
    cliente = ClienteFactory(tenant=tenant, telefone="5511987654321")

    with django_capture_on_commit_callbacks(execute=True):
        send_to_customer(
            chatbot=bot, cliente=cliente, message=Template(name="pedido_saiu", params=["Ana", "#7"])
        )

    assert [r.json["text"] for r in fake_evolution.sends] == [
        "Olá Ana, seu pedido #7 saiu.\n[Falar com a loja]"
    ]
