"""Production's storage: an S3-compatible bucket through django-storages, configured as
config.settings builds it from MEDIA_S3_*, against a fake S3 server on 127.0.0.1."""

from __future__ import annotations

import pytest

from compliance.erasure import cliente_erase
from media.models import Attachment
from media.services import media_link
from media.tests.conftest import JPEG, PDF, media_message

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def bucket(fake_s3, settings):
    settings.STORAGES = {**settings.STORAGES, "default": fake_s3.storage()}
    return fake_s3


def test_files_go_to_the_bucket_private_and_staff_open_them(
    chat_with, bot, fake_graph, bucket, client, owner, media_root
):
    fake_graph.add_media("8001", JPEG, "image/jpeg")
    fake_graph.add_media("8002", PDF, "application/pdf")
    chat = chat_with(bot)
    chat.post(media_message(bot, "image", "8001"))
    chat.post(media_message(bot, "document", "8002", mime_type="application/pdf"))

    photo, pdf = Attachment.objects.select_related("file").order_by("id")
    assert (photo.status, pdf.status) == ("stored", "stored")
    keys = bucket.keys()
    assert keys == sorted([photo.file.file.name, pdf.file.file.name])
    assert sorted(bucket.read(k) for k in keys) == sorted([JPEG, PDF])
    assert not media_root.exists()  # nothing on the local disk
    for key in keys:  # no public grant on any object
        grants = bucket.client.get_object_acl(Bucket=bucket.bucket, Key=key)["Grants"]
        assert all(g["Grantee"].get("URI") != ALL_USERS for g in grants)

    client.force_login(owner)
    response = client.get(media_link(photo.file))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == JPEG


def test_erasure_deletes_the_persons_objects_from_the_bucket(
    chat_with, bot, fake_graph, bucket, django_capture_on_commit_callbacks
):
    fake_graph.add_media("8101", JPEG, "image/jpeg")
    chat = chat_with(bot)
    chat.post(media_message(bot, "image", "8101"))
    assert len(bucket.keys()) == 1

    with django_capture_on_commit_callbacks(execute=True):
        cliente_erase(cliente=chat.conversation.cliente)

    assert bucket.keys() == []
