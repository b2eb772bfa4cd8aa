"""Files the business sends: uploaded to Meta's media endpoint and sent by id."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from chatbots.models import Message
from media.models import Attachment
from media.tests.conftest import PDF
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(tenant, bot):
    conversation = ConversationFactory(
        tenant=tenant, chatbot=bot, last_customer_message_at=timezone.now()
    )
    return conversation


def test_a_file_sent_from_the_inbox_is_uploaded_and_sent_by_id(
    client, owner, conversation, fake_graph, django_capture_on_commit_callbacks, celery_eager
):
    client.force_login(owner)
    upload = SimpleUploadedFile("boleto.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/arquivos/conversas/{conversation.pk}/enviar/",
            {"arquivo": upload, "legenda": "Segue o boleto"},
        )
    assert response.status_code == 302

    (uploaded,) = fake_graph.uploads
    assert uploaded.path.endswith(f"/{conversation.chatbot.phone_number_id}/media")
    assert uploaded.headers["Authorization"] == "Bearer test-token"
    body = uploaded.json  # the multipart body, as text
    assert 'name="messaging_product"' in body and 'name="file"; filename="boleto.pdf"' in body
    assert "application/pdf" in body
    (send,) = fake_graph.sends
    assert send.json["type"] == "document"
    assert send.json["document"] == {
        "id": uploaded.response["id"],
        "caption": "Segue o boleto",
        "filename": "boleto.pdf",
    }
    row = Message.objects.get(conversation=conversation, direction="out")
    assert row.status == Message.Status.SENT
    assert Attachment.objects.get(message=row).file.size == len(PDF)
    # Shown in the conversation like a customer's file.
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()
    assert 'download="boleto.pdf"' in page


def test_a_program_is_not_sent(client, owner, conversation, fake_graph):
    client.force_login(owner)
    upload = SimpleUploadedFile("nota.exe", b"MZ" + b"\x00" * 200)
    response = client.post(
        f"/arquivos/conversas/{conversation.pk}/enviar/", {"arquivo": upload}, follow=True
    )
    assert "Arquivos executáveis não são guardados." in response.content.decode()
    assert not fake_graph.uploads and not fake_graph.sends


def test_staff_of_another_tenant_cannot_send_into_the_conversation(
    client, other_tenant, conversation, fake_graph
):
    from tests.factories import MembershipFactory

    client.force_login(MembershipFactory(tenant=other_tenant).user)
    upload = SimpleUploadedFile("x.pdf", PDF)
    response = client.post(f"/arquivos/conversas/{conversation.pk}/enviar/", {"arquivo": upload})
    assert response.status_code == 404
    assert not fake_graph.uploads


@pytest.fixture
def gateway_conversation(request, tenant):
    from tests.fakes import evolution as evo
    from tests.fakes import whaticket as wt

    if request.param == "evolution":
        fake = request.getfixturevalue("fake_evolution")
        bot = evo.evolution_bot(tenant, fake)
    else:
        fake = request.getfixturevalue("fake_whaticket")
        bot = wt.whaticket_bot(tenant, fake)
    conversation = ConversationFactory(
        tenant=tenant, chatbot=bot, last_customer_message_at=timezone.now()
    )
    return conversation, fake


@pytest.mark.parametrize("gateway_conversation", ["evolution", "whaticket"], indirect=True)
def test_a_file_from_the_inbox_goes_through_the_gateway_as_the_file_itself(
    client, owner, gateway_conversation, django_capture_on_commit_callbacks, celery_eager
):
    import base64

    conversation, fake = gateway_conversation
    client.force_login(owner)
    upload = SimpleUploadedFile("boleto.pdf", PDF, content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/arquivos/conversas/{conversation.pk}/enviar/",
            {"arquivo": upload, "legenda": "Segue o boleto"},
        )
    assert response.status_code == 302

    (send,) = fake.sends
    if conversation.chatbot.provider == "evolution":
        assert send.path == "/message/sendMedia/loja"
        assert base64.b64decode(send.json["media"]) == PDF
        assert {k: send.json[k] for k in ("mediatype", "mimetype", "caption", "fileName")} == {
            "mediatype": "document",
            "mimetype": "application/pdf",
            "caption": "Segue o boleto",
            "fileName": "boleto.pdf",
        }
    else:
        assert send.files == [("medias", "boleto.pdf", "application/pdf", PDF)]
        assert send.json["body"] == "Segue o boleto"
    row = Message.objects.get(conversation=conversation, direction="out")
    assert row.status == Message.Status.SENT
    assert Attachment.objects.get(message=row).file.size == len(PDF)


def test_an_audio_from_the_inbox_goes_to_evolution_as_audio(
    client, owner, tenant, fake_evolution, django_capture_on_commit_callbacks, celery_eager
):
    import base64

    from media.tests.conftest import OGG
    from tests.fakes import evolution as evo

    bot = evo.evolution_bot(tenant, fake_evolution)
    conversation = ConversationFactory(
        tenant=tenant, chatbot=bot, last_customer_message_at=timezone.now()
    )
    client.force_login(owner)
    upload = SimpleUploadedFile("recado.ogg", OGG, content_type="audio/ogg")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/arquivos/conversas/{conversation.pk}/enviar/", {"arquivo": upload})

    (send,) = fake_evolution.sends
    assert send.path == "/message/sendWhatsAppAudio/loja"
    assert base64.b64decode(send.json["audio"]) == OGG
