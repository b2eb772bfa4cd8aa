"""Per-number send governor: a token bucket per chatbot, shared by every worker through Redis.

Why: Meta allows each number 80 messages/s by default (1,000 after an upgrade, 20 for
coexistence numbers; Meta: https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput) and answers 130429 beyond that. Staying under the
limit ourselves is cheaper than being refused. The rate is Chatbot.messages_per_second; the
bucket holds one second's worth of tokens, so a burst of N goes out at once and then N per
second.

The bucket is one Redis hash updated by a Lua script (atomic across workers and machines).
The clock is the caller's (`time.time()`, or `now` passed in): workers are NTP-synced, and a
few milliseconds of skew only shift a refill slightly, while one clock for the whole
pipeline lets tests drive the bucket and the outbox's backoff together. Without Redis (the embedded mode: one machine, a filesystem broker) a
process-local bucket is used instead: good enough for local runs, not a shared limit.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from django.conf import settings

if TYPE_CHECKING:
    from chatbots.models import Chatbot

KEY_PREFIX = "ratelimit:send:bot:"

# KEYS[1]: bucket. ARGV: rate (tokens/s), capacity, now (seconds since the epoch), count
# (tokens wanted; a negative count gives tokens back, up to the capacity).
# Returns {tokens granted, seconds to wait for the next token as a string} (Lua numbers
# returned to Redis are truncated to integers, so the float travels as text).
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local want = tonumber(ARGV[4]) or 1
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local granted = 0
local wait = 0
if want < 0 then
  tokens = math.min(capacity, tokens - want)
else
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
  if granted < want then
    wait = (1 - tokens) / rate
  end
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {granted, string.format('%.6f', wait)}
"""


@dataclass(frozen=True)
class Grant:
    allowed: bool
    wait: float = 0.0  # seconds until a token is available (0 when allowed)


_scripts: dict[tuple[int, str], redis.commands.core.Script] = {}
_local_buckets: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()


def _take_script() -> redis.commands.core.Script:
    # One client (connection pool) per process and URL: pools must not cross fork().
    key = (os.getpid(), settings.REDIS_URL)
    script = _scripts.get(key)
    if script is None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        script = _scripts[key] = client.register_script(_TAKE_LUA)
    return script


def bucket_take(
    *, key: str, rate: float, capacity: float | None = None, now: float | None = None
) -> Grant:
    """Take one token from the bucket `key` refilled at `rate` tokens/s, holding at most
    `capacity` (default: `rate`, one second's worth). A bucket starts full."""
    granted, wait = bucket_take_many(key=key, rate=rate, count=1, capacity=capacity, now=now)
    return Grant(allowed=granted == 1, wait=wait)


def bucket_take_many(
    *, key: str, rate: float, count: int, capacity: float | None = None, now: float | None = None
) -> tuple[int, float]:
    """Take up to `count` tokens at once (a sender's round: one round trip, not one per
    send); return how many were granted and, when fewer than asked, the seconds until the
    next one. A negative `count` gives unused tokens back (up to the capacity)."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    capacity = float(capacity if capacity is not None else max(rate, 1.0))
    now = time.time() if now is None else float(now)
    if settings.REDIS_URL:
        granted, wait = _take_script()(
            keys=[key], args=[repr(float(rate)), repr(capacity), repr(now), str(int(count))]
        )
        return int(granted), float(wait)
    return _local_take(key, float(rate), capacity, now, int(count))


def _local_take(
    key: str, rate: float, capacity: float, now: float, count: int
) -> tuple[int, float]:
    with _local_lock:
        tokens, ts = _local_buckets.get(key, (capacity, now))
        if now > ts:
            tokens, ts = min(capacity, tokens + (now - ts) * rate), now
        if count < 0:
            _local_buckets[key] = (min(capacity, tokens - count), ts)
            return 0, 0.0
        granted = min(count, math.floor(tokens))
        tokens -= granted
        _local_buckets[key] = (tokens, ts)
        return granted, ((1 - tokens) / rate if granted < count else 0.0)


def chatbot_take_token(*, chatbot: Chatbot, now: float | None = None) -> Grant:
    """One send slot of the bot's number. messages_per_second = 0 switches the governor off."""
    rate = chatbot.messages_per_second
    if not rate:
        return Grant(allowed=True)
    return bucket_take(key=f"{KEY_PREFIX}{chatbot.pk}", rate=rate, now=now)


def chatbot_take_tokens(*, chatbot: Chatbot, count: int) -> tuple[int, float]:
    """`count` send slots of the bot's number at once (bucket_take_many); all of them when
    the governor is off."""
    rate = chatbot.messages_per_second
    if not rate or count <= 0:
        return max(count, 0), 0.0
    return bucket_take_many(key=f"{KEY_PREFIX}{chatbot.pk}", rate=rate, count=count)


def chatbot_give_back_tokens(*, chatbot: Chatbot, count: int) -> None:
    """Slots taken by chatbot_take_tokens and not used (rows held back behind a retry)."""
    rate = chatbot.messages_per_second
    if rate and count > 0:
        bucket_take_many(key=f"{KEY_PREFIX}{chatbot.pk}", rate=rate, count=-count)


def seconds_until(grant: Grant) -> float:
    """A countdown for a refused grant, never below a small floor (a 0.001 s countdown is
    just a busy loop through the broker)."""
    return max(math.ceil(grant.wait * 1000) / 1000, 0.05)
