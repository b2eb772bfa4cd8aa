"""What a bot's health tag shows in the staff app (staff/studio/_health.html): the number's
last Evolution connection state (chatbots.account_events.connection_states), whether its replies
stopped leaving (chatbots.health.silent_bots) and Meta's
quality and messaging limit, by name (chatbots.error_codes)."""

from __future__ import annotations

from chatbots.account_events import connection_states
from chatbots.error_codes import quality_name, tier_name
from chatbots.health import silent_bots
from chatbots.models import Chatbot


def health_annotate(bots: list[Chatbot]) -> None:
    """Set on each bot what its health tag shows (staff/studio/_health.html): the last
    Evolution connection state and since when, Meta's quality and tier by name."""
    states = connection_states([b.pk for b in bots])
    silent = silent_bots([b.pk for b in bots if b.provider != "stub"])
    for bot in bots:
        bot.silent = silent.get(bot.pk, "")
        bot.connection_state, bot.connection_since = states.get(bot.pk, ("", None))
        bot.quality_name = quality_name(bot.quality_rating)
        bot.tier_name = tier_name(bot.messaging_limit_tier)
