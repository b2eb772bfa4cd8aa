"""Expired API refresh tokens are deleted by the daily job; live ones stay usable."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from billing.tasks import flush_expired_tokens
from config.schedule import SCHEDULE


def test_it_deletes_expired_refresh_tokens_and_keeps_live_ones(django_user_model):
    user = django_user_model.objects.create_user("ana", password="x")
    live = RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    expired.blacklist()

    assert flush_expired_tokens() == 2  # the token and its blacklist row

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [live["jti"]]
    assert not BlacklistedToken.objects.exists()


def test_the_flush_is_scheduled_daily():
    entry = SCHEDULE["billing.flush_expired_tokens"]
    assert entry["task"] == flush_expired_tokens.name
    assert entry["crontab"] == {"minute": "10", "hour": "4"}
