"""Meta's messaging limit: how many unique customers a number may start conversations with
in a rolling 24 hours (its tier, from the account events, Chatbot.messaging_limit_tier).

Meta: https://developers.facebook.com/docs/whatsapp/messaging-limits ("Messaging limits":
a business phone number starts at 250 unique customers in a rolling 24-hour period and moves
up through 1K, 10K and 100K to unlimited).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Min

from chatbots.models import Chatbot, Message

WINDOW = timedelta(hours=24)
NEW_NUMBER_LIMIT = 250
TIERS = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
}
UNLIMITED = ("TIER_UNLIMITED", "UNLIMITED")


def tier_limit(chatbot: Chatbot) -> int | None:
    """Unique customers per 24 h for the bot's number; None when unlimited."""
    tier = (chatbot.messaging_limit_tier or "").upper()
    if tier in UNLIMITED:
        return None
    return TIERS.get(tier, NEW_NUMBER_LIMIT)


def _business_initiated(chatbot: Chatbot, now: datetime):
    # Templates are what opens a conversation outside the window; a failed row never went.
    return Message.objects.filter(
        conversation__chatbot=chatbot,
        direction=Message.Direction.OUT,
        type="template",
        created_at__gt=now - WINDOW,
    ).exclude(status=Message.Status.FAILED)


def tier_room(chatbot: Chatbot, *, now: datetime) -> int | None:
    """How many more unique customers the bot may reach now; None when unlimited."""
    limit = tier_limit(chatbot)
    if limit is None:
        return None
    used = _business_initiated(chatbot, now).values("conversation_id").distinct().count()
    return max(0, limit - used)


def tier_frees_at(chatbot: Chatbot, *, now: datetime) -> datetime:
    """When the oldest business-initiated message of the window leaves it."""
    first = _business_initiated(chatbot, now).aggregate(first=Min("created_at"))["first"]
    return (first or now) + WINDOW
