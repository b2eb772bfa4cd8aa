"""The staff campaign form without JSON: each audience filter a field writing the audience the
API takes, the count of customers reached as filters change (opted-out customers left out and
said so), the parameter rows of the chosen template, the CSV upload with its rejected lines,
and only the tenant's own tags, products and services offered."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import Membership
from campaigns.models import Campaign, ContactImport
from clientes.models import Cliente
from pedidos.models import ItemPedido, Pedido
from tests.factories import (
    ChatbotFactory,
    MembershipFactory,
    MessageTemplateFactory,
    ProdutoFactory,
    ServicoFactory,
    StepFactory,
)

pytestmark = pytest.mark.django_db

NEW = "/atendimento/campanhas/nova/"


@pytest.fixture
def shop(client, tenant):
    client.force_login(MembershipFactory(tenant=tenant, role=Membership.Role.OWNER).user)
    bot = ChatbotFactory(tenant=tenant, name="Loja")
    oferta = MessageTemplateFactory(
        chatbot=bot,
        name="oferta",
        category="MARKETING",
        body_text="Oi {{1}}, hoje tem {{2}}!",
        body_examples=["Ana", "desconto"],
    )
    return bot, oferta


def _form(bot, template, **audience) -> dict:
    return {
        "name": "Sábado",
        "chatbot": bot.pk,
        "template": template.pk,
        "a-0-source": "field",
        "a-0-field": "primeiro_nome",
        "a-1-source": "value",
        "a-1-value": "pão de queijo",
        "goal": "reply",
        **audience,
    }


def _bought(cliente, produto) -> None:
    pedido = Pedido.objects.create(tenant=cliente.tenant, cliente=cliente, total="80.00")
    ItemPedido.objects.create(
        tenant=cliente.tenant, pedido=pedido, produto=produto, quantidade=1, preco_unitario="80"
    )


@pytest.mark.parametrize(
    ("posted", "written"),
    [
        ({"tags": ["vip", "atacado"]}, {"tags": ["vip", "atacado"]}),
        ({"inactive_days": "30"}, {"inactive_days": 30}),
        ({"spent_over": "150"}, {"spent_over": 150}),
        ({"spent_over": "99.90"}, {"spent_over": 99.9}),
        ({"last_order_before": "2026-05-01"}, {"last_order_before": "2026-05-01"}),
        ({"no_show": "on"}, {"no_show": True}),
        ({"segment": ["em_risco", "perdidos"]}, {"segment": ["em_risco", "perdidos"]}),
    ],
)
def test_each_filter_writes_the_audience_the_api_takes(client, tenant, shop, posted, written):
    bot, oferta = shop
    Cliente.objects.create(tenant=tenant, nome="Ana", telefone="5511987650001", tags=["vip"])
    Cliente.objects.create(tenant=tenant, nome="Bia", telefone="5511987650002", tags=["atacado"])
    response = client.post(NEW, _form(bot, oferta, **posted))
    assert response.status_code == 302, response.content.decode()
    campaign = Campaign.objects.get()
    assert campaign.audience == written
    assert campaign.variants.get().params == [
        {"field": "primeiro_nome"},
        {"value": "pão de queijo"},
    ]


def test_product_service_and_import_filters_write_their_ids(client, tenant, shop):
    bot, oferta = shop
    bolo = ProdutoFactory(categoria__tenant=tenant, nome="Bolo de cenoura")
    corte = ServicoFactory(tenant=tenant, nome="Corte")
    lista = ContactImport.objects.create(tenant=tenant, name="feira.csv")
    form = _form(
        bot,
        oferta,
        bought_product=bolo.pk,
        appointment_service=corte.pk,
        import_id=lista.pk,
    )
    assert client.post(NEW, form).status_code == 302
    assert Campaign.objects.get().audience == {
        "bought_product": bolo.pk,
        "appointment_service": corte.pk,
        "import_id": lista.pk,
    }


def test_the_count_follows_the_filters_and_leaves_out_who_opted_out(client, tenant, shop):
    bolo = ProdutoFactory(categoria__tenant=tenant, nome="Bolo")
    ana = Cliente.objects.create(tenant=tenant, nome="Ana", telefone="5511987650001", tags=["vip"])
    bia = Cliente.objects.create(tenant=tenant, nome="Bia", telefone="5511987650002", tags=["vip"])
    Cliente.objects.create(
        tenant=tenant, nome="Caio", telefone="5511987650003", tags=["vip"], optout_em=timezone.now()
    )
    Cliente.objects.create(tenant=tenant, nome="Duda", telefone="5511987650004")
    _bought(ana, bolo)
    _bought(bia, bolo)

    def count(**query):
        return client.get(f"{NEW}publico/", query).content.decode()

    everyone = count()
    assert 'data-reached="3"' in everyone and "Alcança 3 clientes" in everyone
    assert "1 cliente pediu para não receber e fica de fora" in everyone
    vip = count(tags="vip")
    assert "Alcança 2 clientes" in vip and 'data-opted-out="1"' in vip
    both = count(tags="vip", bought_product=bolo.pk, spent_over="100")
    assert "Alcança 0 clientes" in both and "fica sempre de fora" in both
    assert "Alcança 2 clientes" in count(tags="vip", bought_product=bolo.pk, spent_over="50")


def test_another_tenants_tags_products_and_services_are_never_offered(
    client, tenant, other_tenant, shop
):
    Cliente.objects.create(tenant=tenant, nome="Ana", telefone="5511987650001", tags=["vip"])
    Cliente.objects.create(
        tenant=other_tenant, nome="Zé", telefone="5511987650009", tags=["concorrente"]
    )
    ProdutoFactory(categoria__tenant=tenant, nome="Bolo de cenoura")
    theirs = ProdutoFactory(categoria__tenant=other_tenant, nome="Pizza alheia")
    ServicoFactory(tenant=tenant, nome="Corte")
    ServicoFactory(tenant=other_tenant, nome="Massagem alheia")
    page = client.get(NEW).content.decode()
    assert 'value="vip"' in page and "Bolo de cenoura" in page and "Corte" in page
    assert "concorrente" not in page and "Pizza alheia" not in page
    assert "Massagem alheia" not in page
    bot, oferta = shop
    page = client.post(NEW, _form(bot, oferta, bought_product=theirs.pk)).content.decode()
    assert 'data-field="bought_product"' in page and not Campaign.objects.exists()


def test_the_rows_follow_the_template_and_variant_b_has_its_own(client, tenant, shop):
    bot, oferta = shop
    lembrete = MessageTemplateFactory(
        chatbot=bot, name="lembrete", category="MARKETING", body_text="Volte, {{1}}!"
    )
    rows = client.get(f"{NEW}parametros/", {"variant": "b", "template_b": lembrete.pk})
    html = rows.content.decode()
    assert 'name="b-0-source"' in html and 'name="b-1-source"' not in html
    assert "Valor {{1}}" in html
    two = client.get(f"{NEW}parametros/", {"variant": "a", "template": oferta.pk}).content
    assert b'name="a-1-source"' in two
    page = client.get(NEW).content.decode()
    assert "<textarea" not in page and "JSON" not in page
    assert "Nenhum cliente tem etiqueta ainda." in page

    form = _form(bot, oferta, template_b=lembrete.pk)
    form |= {
        "a-1-source": "assistant",
        "a-1-instruction": "",
        "b-0-source": "assistant",
        "b-0-instruction": "um produto que combine com o que o cliente já pediu",
        "b-0-fallback": "nossas novidades",
    }
    wrong = client.post(NEW, form).content.decode()
    assert "Diga o que o assistente deve sugerir." in wrong and not Campaign.objects.exists()
    form |= {"a-1-instruction": "um doce da estação", "a-1-fallback": "sonho"}
    assert client.post(NEW, form).status_code == 302
    a, b = Campaign.objects.get().variants.order_by("label")
    assert a.params == [
        {"field": "primeiro_nome"},
        {"assistant": "um doce da estação", "fallback": "sonho"},
    ]
    assert b.template == lembrete and b.params == [
        {
            "assistant": "um produto que combine com o que o cliente já pediu",
            "fallback": "nossas novidades",
        }
    ]


def test_a_csv_upload_imports_and_lists_the_rejected_lines(client, tenant, shop):
    csv = (
        "telefone;nome;consentimento\n"
        "11987650001;Ana;formulário do site\n"
        "123;Bia;formulário do site\n"
        "11987650003;Caio;\n"
    )
    upload = SimpleUploadedFile("feira.csv", csv.encode(), content_type="text/csv")
    html = client.post(f"{NEW}importar/", {"csv": upload}).content.decode()
    assert "Importados: 1 novos" in html
    assert "linha 3: telefone inválido" in html
    assert "linha 4: sem a prova do consentimento" in html
    lista = ContactImport.objects.get(tenant=tenant)
    assert f'<option value="{lista.pk}" selected>' in html
    no_proof = SimpleUploadedFile("x.csv", b"telefone;nome\n11987650001;Ana\n")
    assert (
        "Faltam as colunas: consentimento."
        in client.post(f"{NEW}importar/", {"csv": no_proof}).content.decode()
    )


def test_an_agent_gets_neither_the_count_nor_the_upload(client, tenant):
    client.force_login(MembershipFactory(tenant=tenant, role=Membership.Role.AGENT).user)
    assert client.get(f"{NEW}publico/").status_code == 403
    assert client.post(f"{NEW}importar/").status_code == 403


def test_the_reply_step_is_chosen_from_the_bots_steps_and_the_split_strategy_kept(
    client, tenant, shop
):
    bot, oferta = shop
    StepFactory(chatbot=bot, code="cardapio")
    page = client.get(NEW).content.decode()
    assert "Loja · cardapio" in page and "Epsilon-greedy" in page
    form = _form(bot, oferta, reply_step="cardapio", strategy="epsilon", repeat_days="7")
    assert client.post(NEW, form).status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.reply_step, campaign.strategy, campaign.repeat_days) == (
        "cardapio",
        "epsilon",
        7,
    )
    wrong = client.post(NEW, _form(bot, oferta, reply_step="nao-existe")).content.decode()
    assert 'data-field="reply_step"' in wrong and Campaign.objects.count() == 1
