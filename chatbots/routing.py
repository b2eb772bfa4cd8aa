"""Which bot a Meta webhook is for: phone_number_id -> the few fields the webhook needs.

Every Meta POST names its bots by `phone_number_id`. Looking them up was an ORM query plus
the decryption of the app secret, a fifth of the webhook's CPU at full speed
(benchmarks/RESULTS.md), for rows that change a few times a year. So each process keeps
what it found for settings.WEBHOOK_ROUTE_CACHE_SECONDS (5 by default):

* a save or delete of a Chatbot clears this process's entries at once (signals below);
  other processes see the change within the TTL. Until then a rotated app secret is refused
  there (401: Meta retries) and a deleted bot's events fail their INSERT on the foreign key
  (500: Meta retries, then gets 404). Nothing answered 200 is lost or stored for a bot that
  no longer exists;
* numbers that match no bot are not remembered, so a bot created a second ago receives its
  first webhook at once, and random ids sent by strangers cannot grow the cache.

Entries are frozen `BotRoute`s, not model instances: they are shared by the web threads,
and a model instance with deferred fields would reload itself from whichever thread
touched one of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chatbots.models import Chatbot


@dataclass(frozen=True)
class BotRoute:
    """What the webhook needs of a bot: to check the signature and to store its events."""

    pk: int
    tenant_id: int
    name: str
    phone_number_id: str
    app_secret: str


_routes: dict[str, tuple[float, BotRoute]] = {}
_lock = threading.Lock()


def routes_for(phone_number_ids: Iterable[str]) -> dict[str, BotRoute]:
    """phone_number_id -> BotRoute for the ids that name a bot (unknown ids are left out)."""
    ttl = settings.WEBHOOK_ROUTE_CACHE_SECONDS
    now = time.monotonic()
    found: dict[str, BotRoute] = {}
    missing: list[str] = []
    for key in phone_number_ids:
        entry = _routes.get(key)
        if entry is not None and entry[0] > now:
            found[key] = entry[1]
        else:
            missing.append(key)
    if missing:
        fresh = {
            bot.phone_number_id: BotRoute(
                pk=bot.pk,
                tenant_id=bot.tenant_id,
                name=bot.name,
                phone_number_id=bot.phone_number_id,
                app_secret=bot.app_secret,
            )
            for bot in Chatbot.objects.filter(phone_number_id__in=missing).only(
                "id", "tenant_id", "name", "phone_number_id", "app_secret"
            )
        }
        found.update(fresh)
        if ttl > 0:
            expires = now + ttl
            with _lock:
                _routes.update((key, (expires, route)) for key, route in fresh.items())
    return found


def routes_for_wabas(waba_ids: Iterable[str]) -> dict[str, list[BotRoute]]:
    """WABA id -> the BotRoutes of every bot with that WABA id, oldest bot first.

    Not cached: account-level webhooks (templates, quality, account updates) come a few
    times a day, and several numbers (bots, possibly of different apps) share a WABA.
    """
    found: dict[str, list[BotRoute]] = {}
    bots = (
        Chatbot.objects.filter(waba_id__in=list(waba_ids))
        .only("id", "tenant_id", "name", "phone_number_id", "waba_id", "app_secret")
        .order_by("pk")
    )
    for bot in bots:
        found.setdefault(bot.waba_id, []).append(
            BotRoute(
                pk=bot.pk,
                tenant_id=bot.tenant_id,
                name=bot.name,
                phone_number_id=bot.phone_number_id or "",
                app_secret=bot.app_secret,
            )
        )
    return found


def clear() -> None:
    """Forget every route of this process (tests, and any change to a Chatbot)."""
    with _lock:
        _routes.clear()


@receiver(post_save, sender=Chatbot, dispatch_uid="chatbots.routing.saved")
@receiver(post_delete, sender=Chatbot, dispatch_uid="chatbots.routing.deleted")
def _chatbot_changed(**kwargs) -> None:
    # All of them, not just this bot's: a save may have moved a phone_number_id away from
    # the key it was cached under.
    clear()
