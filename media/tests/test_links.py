"""Stored files open only through short-lived signed links, only for the tenant's staff."""

from __future__ import annotations

import time_machine
from django.utils import timezone

from media.services import media_file_store, media_link
from media.tests.conftest import JPEG
from tests.factories import MembershipFactory


def _photo(tenant):
    return media_file_store(tenant_id=tenant.pk, content=JPEG, content_type="image/jpeg")


def test_staff_of_the_tenant_opens_the_file(client, tenant, owner):
    url = media_link(_photo(tenant))
    client.force_login(owner)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == JPEG
    assert "no-store" in response["Cache-Control"]


def test_staff_of_another_tenant_gets_403(client, tenant, other_tenant):
    url = media_link(_photo(tenant))
    client.force_login(MembershipFactory(tenant=other_tenant).user)
    assert client.get(url).status_code == 403


def test_a_link_past_its_lifetime_gets_404(client, tenant, owner, settings):
    settings.MEDIA_LINK_SECONDS = 300
    photo = _photo(tenant)
    with time_machine.travel(timezone.now() - timezone.timedelta(seconds=301), tick=False):
        url = media_link(photo)
    client.force_login(owner)
    assert client.get(url).status_code == 404


def test_a_forged_link_gets_404(client, tenant, owner):
    url = media_link(_photo(tenant))
    client.force_login(owner)
    assert client.get(url[:-3] + "xyz/").status_code == 404


def test_nobody_signed_in_is_sent_to_log_in(client, tenant):
    response = client.get(media_link(_photo(tenant)))
    assert response.status_code == 302
    assert "login" in response["Location"]
