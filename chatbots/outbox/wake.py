"""Waking the sender: a nudge through Redis, never the queue itself.

The outbox rows in the database are the queue (chatbots.outbox.sender claims them). When a
transaction queues rows, `notify` publishes on this database's channel so that a sleeping
sender looks now instead of at its next poll (SENDER_POLL_SECONDS). A lost nudge costs at
most one poll interval; nothing is lost with it.

PUBLISH answers how many subscribers got the message (Redis:
https://redis.io/docs/latest/commands/publish/), so the queueing side knows in the same
round trip whether a sender listens at all; when none does, the caller falls back to the
Celery task as before. The read receipts that ride with a turn go into a list in the same
script, only when a sender listens, and one sender pops each (LPOP with a count, Redis 6.2+:
https://redis.io/docs/latest/commands/lpop/).

Without Redis (the embedded mode) there is no nudge: a sender counts as listening while its
heartbeat (config.heartbeat.SENDER_KEY) is fresh, it finds new rows at its next poll, and
receipts go by the Celery task.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connections

from config import heartbeat

logger = logging.getLogger(__name__)

# KEYS[1]: the channel, KEYS[2]: the receipts list. ARGV: receipts ("<chatbot id>:<external id>").
# Returns how many senders got the nudge; the receipts are kept only when one did, and the
# list is bounded so that senders gone for good cannot make it grow without end.
_NOTIFY_LUA = """
local listeners = redis.call('PUBLISH', KEYS[1], '1')
if listeners > 0 and #ARGV > 0 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV))
  redis.call('LTRIM', KEYS[2], -100000, -1)
end
return listeners
"""

_clients: dict[tuple[int, str], redis.Redis] = {}
_scripts: dict[tuple[int, str], object] = {}


@dataclass(frozen=True)
class Names:
    channel: str
    receipts: str


def names() -> Names:
    """This database's channel and receipts list: a sender serves one database, and test
    runs in parallel (one database each) share one Redis."""
    database = connections["default"].settings_dict["NAME"]
    return Names(channel=f"outbox:wake:{database}", receipts=f"outbox:read:{database}")


def client() -> redis.Redis | None:
    """The Redis client for nudges (one per process), or None without Redis."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    key = (os.getpid(), url)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return _clients[key]


def _receipt(chatbot_id: int, external_id: str) -> str:
    return f"{chatbot_id}:{external_id}"


def parse_receipt(raw: bytes | str) -> tuple[int, str] | None:
    text = raw.decode() if isinstance(raw, bytes) else raw
    chatbot_id, _sep, external_id = text.partition(":")
    if not chatbot_id.isdigit() or not external_id:
        return None
    return int(chatbot_id), external_id


@dataclass(frozen=True)
class Taken:
    rows: bool  # a sender will send the queued rows
    receipts: bool  # ... and it took the read receipts


def notify(*, read: Sequence[tuple[int, str]] = ()) -> Taken:
    """Nudge the senders; say whether one will take the rows (and the receipts `read`,
    (chatbot id, external id) pairs). Never raises: a Redis failure answers "no one"."""
    redis_client = client()
    if redis_client is None:
        return Taken(rows=sender_alive(), receipts=False)
    where = names()
    try:
        key = (os.getpid(), settings.REDIS_URL)
        script = _scripts.get(key)
        if script is None:
            script = _scripts[key] = redis_client.register_script(_NOTIFY_LUA)
        listeners = int(
            script(keys=[where.channel, where.receipts], args=[_receipt(*r) for r in read])
        )
    except redis.RedisError:
        logger.warning("could not nudge the sender; the Celery task sends instead", exc_info=True)
        return Taken(rows=False, receipts=False)
    return Taken(rows=listeners > 0, receipts=listeners > 0)


def sender_alive(*, now: float | None = None) -> bool:
    """Whether a sender beat recently (three heartbeat intervals)."""
    try:
        last = heartbeat.last_beat(heartbeat.SENDER_KEY)
    except Exception:
        return False
    return (
        last is not None and (now or time.time()) - float(last) < 3 * heartbeat.HEARTBEAT_INTERVAL
    )
