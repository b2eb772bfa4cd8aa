"""What a bot's health tag shows in the staff app (staff/studio/_health.html): the number's
last Evolution connection state (chatbots.account_events.connection_states), whether its replies
stopped leaving (chatbots.health.silent_bots) and Meta's
quality and messaging limit, by name."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _lazy

from chatbots.account_events import connection_states
from chatbots.health import silent_bots
from chatbots.models import Chatbot

# Meta's codes for a number's quality and messaging limit, said as an owner reads them (Meta:
# https://developers.facebook.com/docs/whatsapp/messaging-limits).
QUALITY_NAMES = {
    "GREEN": _lazy("alta (verde)"),
    "YELLOW": _lazy("média (amarela)"),
    "RED": _lazy("baixa (vermelha)"),
}
TIER_NAMES = {
    "TIER_50": _lazy("até 50 conversas iniciadas por dia"),
    "TIER_250": _lazy("até 250 conversas iniciadas por dia"),
    "TIER_1K": _lazy("até 1.000 conversas iniciadas por dia"),
    "TIER_10K": _lazy("até 10.000 conversas iniciadas por dia"),
    "TIER_100K": _lazy("até 100.000 conversas iniciadas por dia"),
    "TIER_UNLIMITED": _lazy("sem limite de conversas iniciadas"),
}


def health_annotate(bots: list[Chatbot]) -> None:
    """Set on each bot what its health tag shows (staff/studio/_health.html): the last
    Evolution connection state and since when, Meta's quality and tier by name."""
    states = connection_states([b.pk for b in bots])
    silent = silent_bots([b.pk for b in bots if b.provider != "stub"])
    for bot in bots:
        bot.silent = silent.get(bot.pk, "")
        bot.connection_state, bot.connection_since = states.get(bot.pk, ("", None))
        bot.quality_name = QUALITY_NAMES.get(bot.quality_rating, bot.quality_rating)
        bot.tier_name = TIER_NAMES.get(bot.messaging_limit_tier, bot.messaging_limit_tier)
