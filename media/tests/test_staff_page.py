"""What staff see of a conversation's files and places, in the staff app and the admin."""

from __future__ import annotations

import pytest

from chatbots.models import Message
from media.models import Attachment
from media.services import media_file_store
from media.tests.conftest import JPEG, OGG, PDF
from tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def _message(conversation, kind, *, text="", data=None):
    return Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        direction=Message.Direction.IN,
        type=kind,
        text=text,
        payload={"data": data or {}},
        status=Message.Status.RECEIVED,
    )


def _attach(message, content, mime, **fields):
    stored = media_file_store(tenant_id=message.tenant_id, content=content, content_type=mime)
    return Attachment.objects.create(
        tenant_id=message.tenant_id,
        message=message,
        kind=message.type,
        file=stored,
        status="stored",
        **fields,
    )


@pytest.fixture
def conversation(tenant):
    conversation = ConversationFactory(tenant=tenant, chatbot__tenant=tenant)
    _attach(_message(conversation, "image", text="roteador"), JPEG, "image/jpeg")
    _attach(_message(conversation, "audio"), OGG, "audio/ogg", voice=True)
    _attach(_message(conversation, "document"), PDF, "application/pdf", filename="pix.pdf")
    _message(
        conversation,
        "location",
        data={
            "location": {
                "latitude": -23.5614,
                "longitude": -46.6559,
                "name": "Casa",
                "address": "Av. Paulista, 1000",
            }
        },
    )
    refused = _message(conversation, "video")
    Attachment.objects.create(
        tenant_id=tenant.pk,
        message=refused,
        kind="video",
        status="refused",
        reason="Arquivo maior que o limite do WhatsApp para o tipo.",
    )
    return conversation


def test_the_conversation_page_shows_files_and_places(client, owner, conversation):
    client.force_login(owner)
    page = client.get(f"/atendimento/conversas/{conversation.pk}/").content.decode()

    assert 'class="thumb" src="/arquivos/' in page
    assert '<audio controls preload="none" src="/arquivos/' in page
    assert "Mensagem de voz" in page
    assert 'download="pix.pdf"' in page and "pix.pdf</a>" in page
    assert "Av. Paulista, 1000" in page
    assert "https://www.google.com/maps/search/?api=1&amp;query=-23.5614%2C-46.6559" in page
    assert "Arquivo não guardado: Arquivo maior que o limite" in page
    # Every link opens for this staff member.
    import re

    links = set(re.findall(r'(?:src|href)="(/arquivos/[^"]+)"', page))
    assert len(links) == 3
    assert all(client.get(link).status_code == 200 for link in links)


def test_the_admin_lists_attachments_with_previews(admin_client, conversation):
    page = admin_client.get("/admin/media/attachment/").content.decode()
    assert page.count('src="/arquivos/') >= 2  # the photo and the voice note
    assert "pix.pdf" in page


def test_the_conversation_in_the_admin_shows_its_files_and_places(
    admin_client, conversation, django_assert_max_num_queries
):
    url = f"/admin/chatbots/conversation/{conversation.pk}/change/"
    with django_assert_max_num_queries(10):  # 8; one more per message would be 13
        page = admin_client.get(url).content.decode()
    assert 'class="thumb" src="/arquivos/' in page
    assert '<audio controls preload="none" src="/arquivos/' in page
    assert 'download="pix.pdf"' in page
    assert "Av. Paulista, 1000" in page and "Ver no mapa" in page
    assert "Arquivo não guardado: Arquivo maior que o limite" in page
