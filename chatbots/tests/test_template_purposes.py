"""Purposes pick among approved templates in the customer's language, and a message that
could not go says why no template of its purpose was approved (chatbots.outbox)."""

from __future__ import annotations

from chatbots import outbox
from chatbots.models import Chatbot, Message, MessageTemplate
from tests.factories import ClienteFactory


def _bot(tenant) -> Chatbot:
    return Chatbot.objects.create(tenant=tenant, name="Padaria", provider="stub")


def _template(bot, name, language, *, approved=True, status="APPROVED", **fields):
    return MessageTemplate.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        name=name,
        language=language,
        purpose="reminder",
        approved=approved,
        status=status if approved else (status if status != "APPROVED" else "PENDING"),
        body_text="Olá {{1}}, até amanhã às {{2}}."
        if language.startswith("pt")
        else "Hi {{1}}, see you at {{2}}.",
        body_examples=["Maria", "10:00"],
        **fields,
    )


def test_the_template_is_picked_in_the_customers_language(tenant):
    bot = _bot(tenant)
    _template(bot, "lembrete", "pt_BR")
    english = _template(bot, "reminder_en", "en_US")
    turista = ClienteFactory(tenant=tenant, idioma="en_US")
    local = ClienteFactory(tenant=tenant)

    for_tourist = outbox.template_for(
        chatbot=bot, purpose="reminder", params=["Ann", "10:00"], cliente=turista
    )
    for_local = outbox.template_for(
        chatbot=bot, purpose="reminder", params=["Ana", "10:00"], cliente=local
    )

    assert (for_tourist.name, for_tourist.language) == (english.name, "en_US")
    assert (for_local.name, for_local.language) == ("lembrete", "pt_BR")


def test_another_region_of_the_same_language_will_do(tenant):
    bot = _bot(tenant)
    _template(bot, "lembrete", "pt_PT")

    picked = outbox.approved_template(
        chatbot=bot, purpose="reminder", cliente=ClienteFactory(tenant=tenant)
    )

    assert picked.language == "pt_PT"


def test_no_template_in_the_customers_language_is_none(tenant):
    bot = _bot(tenant)
    _template(bot, "lembrete", "pt_BR")

    assert (
        outbox.template_for(
            chatbot=bot,
            purpose="reminder",
            params=["x", "y"],
            cliente=ClienteFactory(tenant=tenant, idioma="es"),
        )
        is None
    )


def test_the_same_template_goes_in_the_customers_language_when_it_exists(
    tenant, celery_eager, django_capture_on_commit_callbacks
):
    bot = _bot(tenant)
    _template(bot, "lembrete", "pt_BR")
    _template(bot, "lembrete", "es")
    cliente = ClienteFactory(tenant=tenant, idioma="es")

    with django_capture_on_commit_callbacks(execute=True):
        row = outbox.send_to_customer(
            chatbot=bot,
            cliente=cliente,
            message=outbox.Template(name="lembrete", language="pt_BR", params=["Ana", "10:00"]),
        )

    assert Message.objects.get(pk=row.pk).payload["language"] == "es"


def test_a_message_that_could_not_go_says_why_no_template_was_approved(tenant):
    bot = _bot(tenant)
    _template(
        bot, "lembrete", "pt_BR", approved=False, status="REJECTED", status_reason="INVALID_FORMAT"
    )
    cliente = ClienteFactory(tenant=tenant)

    row = outbox.send_to_customer(
        chatbot=bot,
        cliente=cliente,
        message=outbox.Text(body="Lembrete: amanhã às 10h"),
        template=outbox.template_for(chatbot=bot, purpose="reminder", params=[], cliente=cliente),
        reason="reminder_24h",
        purpose="reminder",
    )

    assert (row.status, row.error_code) == (Message.Status.FAILED, "outside_24h_window")
    assert "Nenhum modelo aprovado com o uso “reminder” no idioma pt_BR" in row.error_detail
    assert "lembrete (pt_BR): Rejeitado – INVALID_FORMAT" in row.error_detail


def test_a_purpose_without_any_template_says_so(tenant):
    bot = _bot(tenant)

    row = outbox.send_to_customer(
        chatbot=bot,
        cliente=ClienteFactory(tenant=tenant),
        message=outbox.Text(body="Seu pedido saiu"),
        reason="order_update",
    )

    assert "Nenhum modelo de mensagem cadastrado com o uso “order_update”" in row.error_detail


def test_named_parameters_fill_by_name(tenant):
    bot = _bot(tenant)
    MessageTemplate.objects.create(
        tenant=tenant,
        chatbot=bot,
        name="pedido",
        purpose="order_update",
        approved=True,
        status="APPROVED",
        parameter_format="NAMED",
        body_text="Olá {{nome}}, o pedido {{numero}} saiu.",
        body_examples={"nome": "Maria", "numero": "42"},
    )

    template = outbox.template_for(
        chatbot=bot, purpose="order_update", params={"numero": "7", "nome": "Ana"}
    )

    assert template.named == {"numero": "7", "nome": "Ana"}


def test_the_customers_language_is_set_in_the_api(key_client):
    response = key_client.post(
        "/api/clientes/",
        {"nome": "Ann", "telefone": "+1 555 078 3881", "idioma": "en_US"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["idioma"] == "en_US"
