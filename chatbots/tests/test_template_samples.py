"""A media header's sample file: chosen on the template's admin page, checked against Meta's
limits, uploaded through Meta's Resumable Upload API (the fake Graph API on 127.0.0.1) and
its handle sent with the submission (chatbots.template_samples)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Membership
from chatbots import template_samples, template_sync
from chatbots.models import MessageTemplate
from chatbots.tests.template_support import WABA, create_errors, login, waba_bot
from chatbots.tests.test_admin import page_data

APP_ID = "1234567890123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00" + b"\x00" * 64
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00" + b"\x00" * 64


@pytest.fixture
def bot(tenant, fake_graph, settings):
    settings.WHATSAPP_APP_ID = APP_ID
    return waba_bot(tenant)


@pytest.fixture
def template(bot):
    return MessageTemplate.objects.create(
        tenant=bot.tenant,
        chatbot=bot,
        name="cardapio_semana",
        category="MARKETING",
        status="DRAFT",
        header_format="IMAGE",
        header_media_url="https://padaria.com.br/cardapio.png",
        body_text="Olá {{1}}, o cardápio da semana chegou.",
        body_examples=["Maria"],
    )


def change_url(template) -> str:
    return f"/admin/chatbots/messagetemplate/{template.pk}/change/"


def post_sample(client, template, content: bytes, filename: str, **overrides):
    data = page_data(client.get(change_url(template)), **overrides)
    data["header_sample"] = SimpleUploadedFile(filename, content, content_type="image/png")
    return client.post(change_url(template), data, follow=True)


def test_the_sample_is_uploaded_and_its_handle_goes_with_the_submission(
    client, tenant, template, fake_graph
):
    login(client, tenant, Membership.Role.OWNER)

    response = post_sample(client, template, PNG, "cardapio.png")

    assert response.redirect_chain, response.content.decode()[:2000]
    opening, upload = fake_graph.requests
    assert opening.path == f"/v23.0/{APP_ID}/uploads"
    assert opening.query["file_type"] == ["image/png"]
    assert opening.query["file_length"] == [str(len(PNG))]
    assert opening.query["file_name"] == ["cardapio.png"]
    assert opening.headers["Authorization"] == "Bearer EAAG-tk"
    assert upload.headers["Authorization"] == "OAuth EAAG-tk"
    assert upload.headers["file_offset"] == "0"
    assert upload.body == PNG
    handle = fake_graph.uploaded[0]["handle"]
    template.refresh_from_db()
    assert template.header_example == handle

    client.post(
        "/admin/chatbots/messagetemplate/",
        {"action": "submit_to_meta", "_selected_action": [template.pk]},
    )

    submitted = fake_graph.requests[-1]
    assert submitted.path == f"/v23.0/{WABA}/message_templates"
    assert submitted.json["components"][0] == {
        "type": "HEADER",
        "format": "IMAGE",
        "example": {"header_handle": [handle]},
    }
    assert create_errors(submitted.json) == ""
    template.refresh_from_db()
    assert template.status == "PENDING"


def test_a_bot_with_its_own_meta_app_uploads_to_that_app(template, fake_graph):
    template.chatbot.provider_config = {"app_id": "998877"}
    template.chatbot.save()

    handle = template_samples.template_sample_upload(
        template=template, file=io.BytesIO(JPEG), name="foto.jpg"
    )

    assert fake_graph.uploaded == [
        {
            "file_name": "foto.jpg",
            "file_type": "image/jpeg",
            "app_id": "998877",
            "content": JPEG,
            "handle": handle,
        }
    ]
    assert template.header_example == handle


@pytest.mark.parametrize(
    ("header", "content", "name", "says"),
    [
        ("IMAGE", PDF, "cardapio.png", "“cardapio.png” não é JPG ou PNG"),
        ("VIDEO", MOV, "video.mp4", "“video.mp4” não é MP4"),
        ("DOCUMENT", JPEG, "menu.pdf", "“menu.pdf” não é PDF"),
        ("IMAGE", PNG + b"\x00" * (5 * 1024 * 1024), "grande.png", "o limite da Meta"),
    ],
)
def test_a_wrong_type_or_an_oversize_file_is_refused_before_any_call(
    client, tenant, template, fake_graph, header, content, name, says
):
    MessageTemplate.objects.filter(pk=template.pk).update(header_format=header)
    login(client, tenant, Membership.Role.OWNER)

    response = post_sample(client, template, content, name, body_text="Mudou {{1}}, veja.")

    page = response.content.decode()
    assert says in page
    assert "Mudou {{1}}, veja." in page  # the form keeps what was typed
    assert fake_graph.requests == []
    template.refresh_from_db()
    assert (template.header_example, template.body_text) == (
        "",
        "Olá {{1}}, o cardápio da semana chegou.",
    )


def test_the_size_limits_are_metas_per_header():
    assert (
        template_samples.sample_problems("VIDEO", name="v.mp4", size=16 * 1024 * 1024, head=MP4)
        == []
    )
    assert (
        template_samples.sample_problems("DOCUMENT", name="m.pdf", size=90 * 1024 * 1024, head=PDF)
        == []
    )
    assert template_samples.sample_problems(
        "IMAGE", name="f.jpg", size=5 * 1024 * 1024 + 1, head=JPEG
    ) == ["“f.jpg” tem 5,0 MB; o limite da Meta para este cabeçalho é 5,0 MB."]
    assert (
        "só para cabeçalho de imagem, vídeo ou PDF"
        in template_samples.sample_problems("TEXT", name="f.png", size=10, head=PNG)[0]
    )


@pytest.mark.parametrize("step", ["opening", "upload"])
def test_an_error_from_meta_is_shown_in_portuguese_and_changes_nothing(
    client, tenant, template, fake_graph, step
):
    MessageTemplate.objects.filter(pk=template.pk).update(header_example="4::antigo")
    login(client, tenant, Membership.Role.OWNER)
    if step == "upload":
        fake_graph.respond_next(status=200, body={"id": "upload:abc?sig=x"})
    fake_graph.fail_next(code=100, details="Invalid file")

    response = post_sample(client, template, PNG, "cardapio.png", body_text="Mudou {{1}}, veja.")

    page = response.content.decode()
    assert "A Meta não aceitou o arquivo de exemplo (100:" in page
    assert "Invalid file" in page
    assert "Nada foi alterado no modelo" in page
    assert "Mudou {{1}}, veja." in page
    template.refresh_from_db()
    assert (template.header_example, template.body_text) == (
        "4::antigo",
        "Olá {{1}}, o cardápio da semana chegou.",
    )
    assert fake_graph.uploaded == []


def test_meta_not_answering_is_said_plainly(template, fake_graph, settings):
    settings.HTTP_TIMEOUT_SECONDS = 0.2
    fake_graph.delay_next(1.0)

    with pytest.raises(template_samples.SampleRefused) as refused:
        template_samples.template_sample_upload(
            template=template, file=io.BytesIO(PNG), name="cardapio.png"
        )

    assert (
        "A Meta não respondeu ao envio do arquivo de exemplo (timeout)" in refused.value.problems[0]
    )
    assert template.header_example == ""


def test_without_an_app_id_the_user_is_told_where_to_set_it(
    client, tenant, template, fake_graph, settings
):
    settings.WHATSAPP_APP_ID = ""
    login(client, tenant, Membership.Role.OWNER)

    page = post_sample(client, template, PNG, "cardapio.png").content.decode()

    assert "Falta o ID do app da Meta" in page
    assert "“app_id” na configuração do provedor do chatbot “Padaria”" in page
    assert fake_graph.requests == []


def test_nothing_is_uploaded_while_the_rest_of_the_form_is_wrong(
    client, tenant, template, fake_graph
):
    login(client, tenant, Membership.Role.OWNER)

    response = post_sample(client, template, PNG, "cardapio.png", name="")

    assert response.context["adminform"].form.errors["name"]
    assert fake_graph.requests == []


def test_a_media_template_without_a_sample_cannot_be_submitted(template, fake_graph):
    with pytest.raises(template_sync.TemplateInvalid) as invalid:
        template_sync.template_submit(template=template)

    assert "envie o arquivo de exemplo" in "; ".join(invalid.value.problems)
    assert fake_graph.requests == []


def test_a_new_template_is_created_with_its_sample_in_one_save(client, tenant, bot, fake_graph):
    login(client, tenant, Membership.Role.ADMIN)
    add = "/admin/chatbots/messagetemplate/add/"
    data = page_data(
        client.get(add),
        chatbot=bot.pk,
        name="manual_pdf",
        category="UTILITY",
        header_format="DOCUMENT",
        header_media_url="https://padaria.com.br/manual.pdf",
        body_text="Olá {{1}}, segue o manual.",
        body_examples='["Maria"]',
    )
    data["header_sample"] = SimpleUploadedFile("manual.pdf", PDF, content_type="application/pdf")

    response = client.post(add, data, follow=True)

    assert response.redirect_chain, response.context["adminform"].form.errors
    created = MessageTemplate.objects.get(name="manual_pdf")
    assert created.header_example == fake_graph.uploaded[0]["handle"]
    assert fake_graph.uploaded[0]["file_type"] == "application/pdf"
