"""Parameters written per customer by the assistant (against the fake Gemini server), and the
placeholder count checked when a campaign is created."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign, CampaignSuggestion
from campaigns.tests.conftest import customers
from campaigns.tests.test_api import BASE, client_for
from pedidos.models import ItemPedido, Pedido
from tests.factories import MessageTemplateFactory, ProdutoFactory, TenantFactory

pytestmark = pytest.mark.django_db

SUGGEST = {
    "assistant": "um produto do cardápio que combine com o que o cliente já pediu",
    "fallback": "nossas novidades",
    "max_length": 40,
}


@pytest.fixture
def as_owner(owner):
    return client_for(owner)


@pytest.fixture
def oferta(bot):
    return MessageTemplateFactory(
        chatbot=bot,
        name="oferta",
        category="MARKETING",
        body_text="Oi {{1}}, que tal {{2}} hoje?",
        body_examples=["Ana", "um bolo"],
    )


def _bought(cliente, produto) -> None:
    pedido = Pedido.objects.create(tenant=cliente.tenant, cliente=cliente)
    ItemPedido.objects.create(
        tenant=cliente.tenant, pedido=pedido, produto=produto, quantidade=1, preco_unitario="9.00"
    )


def _suggest_from_history(request) -> dict:
    """The fake model suggests a cake to who bought coffee, a coffee to the others."""
    history = " ".join(request.user_texts)
    return {"text": "um Bolo de cenoura" if "Café" in history else "um Café coado"}


def test_the_assistant_writes_each_customers_value_once_and_the_send_uses_it(
    tenant, bot, oferta, as_owner, run, fake_gemini, fake_graph, django_capture_on_commit_callbacks
):
    cafe = ProdutoFactory(tenant=tenant, nome="Café coado")
    ProdutoFactory(tenant=tenant, nome="Bolo de cenoura")
    ProdutoFactory(tenant=TenantFactory(), nome="Pizza de outra loja")
    ana, bruno = customers(tenant, 2, tags=["vip"])
    _bought(ana, cafe)
    fake_gemini.respond(_suggest_from_history)

    body = {
        "name": "Sugestões",
        "chatbot": bot.pk,
        "template": oferta.pk,
        "params": [{"field": "primeiro_nome"}, SUGGEST],
        "audience": {"tags": ["vip"]},
    }
    with django_capture_on_commit_callbacks(execute=True):
        created = as_owner.post(BASE, body, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    # Computed before the start, for the preview: each customer's own text.
    preview = as_owner.get(f"{BASE}{pk}/preview/").json()
    assert [row["text"] for row in preview] == [
        "Oi Cliente, que tal um Bolo de cenoura hoje?",
        "Oi Cliente, que tal um Café coado hoje?",
    ]
    assert not any(row["pending"] or row["fallback"] for row in preview)
    asked = fake_gemini.requests
    assert len(asked) == 2
    assert "Bolo de cenoura" in asked[0].system  # the tenant's catalog grounds it
    assert "Pizza de outra loja" not in asked[0].everything
    assert "1 × Café coado" in " ".join(asked[0].user_texts)

    sent = run(lambda: as_owner.post(f"{BASE}{pk}/start/"))
    assert sorted(sent) == sorted(["+" + ana.telefone, "+" + bruno.telefone])
    texts = {
        r.json["to"].lstrip("+"): r.json["template"]["components"][0]["parameters"][1]["text"]
        for r in fake_graph.sends
    }
    assert texts == {ana.telefone: "um Bolo de cenoura", bruno.telefone: "um Café coado"}
    # The values written for the preview were sent as they were: no second call.
    assert len(fake_gemini.requests) == 2
    assert Campaign.objects.get(pk=pk).status == Campaign.Status.DONE


def test_a_failing_model_sends_the_fixed_fallback(
    tenant, bot, oferta, as_owner, run, fake_gemini, fake_graph, django_capture_on_commit_callbacks
):
    customers(tenant, 1, tags=["vip"])
    fake_gemini.fail_next(status=400)
    body = {
        "name": "Sugestões",
        "chatbot": bot.pk,
        "template": oferta.pk,
        "params": [{"value": "amigo"}, SUGGEST],
        "audience": {"tags": ["vip"]},
    }
    with django_capture_on_commit_callbacks(execute=True):
        pk = as_owner.post(BASE, body, format="json").json()["id"]
    [row] = as_owner.get(f"{BASE}{pk}/preview/").json()
    assert row["fallback"] and row["text"] == "Oi amigo, que tal nossas novidades hoje?"
    run(lambda: as_owner.post(f"{BASE}{pk}/start/"))
    [send] = fake_graph.sends
    assert send.json["template"]["components"][0]["parameters"][1]["text"] == "nossas novidades"
    assert CampaignSuggestion.objects.get().fallbacks == [SUGGEST["assistant"]]


def test_a_campaign_started_before_the_preview_prepares_first(
    tenant, bot, oferta, as_owner, run, fake_gemini, fake_graph
):
    customers(tenant, 3, tags=["vip"])
    fake_gemini.reply_next({"text": "um pão de queijo quentinho, que sai agora do forno " * 3})
    body = {
        "name": "Sugestões",
        "chatbot": bot.pk,
        "template": oferta.pk,
        "params": [{"value": "amigo"}, SUGGEST],
        "audience": {"tags": ["vip"]},
    }
    pk = as_owner.post(BASE, body, format="json").json()["id"]  # the preview task never ran
    assert all(row["pending"] for row in as_owner.get(f"{BASE}{pk}/preview/").json())
    run(lambda: as_owner.post(f"{BASE}{pk}/start/"))
    values = [
        r.json["template"]["components"][0]["parameters"][1]["text"] for r in fake_graph.sends
    ]
    assert len(values) == 3 and len(fake_gemini.requests) == 3
    assert len(values[0]) <= 40 and values[0].startswith("um pão de queijo")  # bounded, at a word


def test_the_placeholder_count_is_checked_at_the_field(bot, oferta, as_owner):
    one = as_owner.post(
        BASE,
        {"name": "X", "chatbot": bot.pk, "template": oferta.pk, "params": [{"value": "a"}]},
        format="json",
    )
    assert one.status_code == 400
    assert "tem 2 parâmetro(s) ({{1}}, {{2}}), mas foram dados 1" in one.json()["params"][0]

    header = MessageTemplateFactory(
        chatbot=bot,
        name="com_cabecalho",
        header_format="TEXT",
        header_text="Olá {{1}}",
        body_text="Seu cupom: {{1}}",
        body_examples=["X"],
    )
    variants = as_owner.post(
        BASE,
        {
            "name": "X",
            "chatbot": bot.pk,
            "variants": [
                {"template": oferta.pk, "params": [{"value": "a"}, {"value": "b"}]},
                {"template": header.pk, "params": [{"value": "a"}]},
            ],
        },
        format="json",
    )
    assert variants.status_code == 400
    errors = variants.json()["variants"]
    assert errors[0] == {} and "cabeçalho {{1}}, {{1}}" in errors[1]["params"][0]
    assert not Campaign.objects.exists()
