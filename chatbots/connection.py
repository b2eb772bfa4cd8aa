"""The "test connection" of a bot: its provider's cheapest authenticated call.

One service for the admin action and the API action (`POST /api/chatbots/{id}/
test-connection/`). It answers how the check went and what to fix, in pt-BR, and never
raises: a broken provider module or an unreachable gateway is an answer too. Secrets are
used, never returned or logged.

The answer is ours, never the remote server's: a bot's server URL is the tenant's, so
repeating its body or status code would let anyone who can edit a bot read, or port-scan,
what our servers reach (the providers word their failures with
`chatbots.providers.base.connection_failure` and log the remote answer; the egress policy,
config/egress.py, keeps internal addresses from being called at all).
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from chatbots.models import Chatbot
from chatbots.providers.registry import UnknownProvider, get_provider

logger = logging.getLogger(__name__)


def chatbot_check_connection(*, chatbot: Chatbot) -> tuple[bool, str]:
    """(ok, detail) of `chatbot`'s provider `check_connection`."""
    try:
        provider = get_provider(chatbot.provider)
    except UnknownProvider as exc:
        return False, str(exc)
    try:
        ok, detail = provider.check_connection(chatbot)
    except Exception:  # a bug in a provider must not break the admin page
        logger.exception("connection check crashed", extra={"chatbot_id": chatbot.pk})
        return False, _("O teste de conexão falhou com um erro interno; veja os logs.")
    logger.info(
        "connection checked",
        extra={"chatbot_id": chatbot.pk, "provider": chatbot.provider, "ok": ok},
    )
    return ok, detail


# --- Periodic check, for the operators (metrics and alerts) -----------------------------------

# The last periodic result per bot, in the shared cache: /metrics reads it
# (chatbot_number_connected), so a number that lost its session raises an alert.
CONNECTED_KEY = "ops:connected:{bot}"
CONNECTED_TTL = 3 * 3600  # older than this, a result says nothing: the gauge drops the bot
# Providers with nothing to connect: the simulator and the test stub.
NOTHING_TO_CHECK = frozenset({"stub", "simulator"})


def connections_check() -> dict[str, int]:
    """Check every active bot's connection once and keep the result for /metrics."""
    from django.core.cache import cache

    counts = {"ok": 0, "down": 0}
    bots = Chatbot.objects.filter(active=True).exclude(provider__in=NOTHING_TO_CHECK)
    for chatbot in bots.iterator():
        ok, _detail = chatbot_check_connection(chatbot=chatbot)
        cache.set(CONNECTED_KEY.format(bot=chatbot.pk), int(ok), CONNECTED_TTL)
        counts["ok" if ok else "down"] += 1
    if counts["down"]:
        logger.warning("numbers disconnected", extra=counts)
    return counts


def connections_last(bots: list[Chatbot]) -> dict[int, int]:
    """The last periodic result (1 connected, 0 not) of each of `bots` that has one."""
    from django.core.cache import cache

    keys = {CONNECTED_KEY.format(bot=b.pk): b.pk for b in bots}
    return {keys[k]: v for k, v in cache.get_many(list(keys)).items()}
