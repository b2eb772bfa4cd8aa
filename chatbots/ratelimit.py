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

# KEYS[1]: bucket. ARGV: rate (tokens/s), capacity, now (seconds since the epoch).
# Returns {1|0, seconds to wait for the next token as a string} (Lua numbers returned to
# Redis are truncated to integers, so the float travels as text).
_TAKE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
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
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, string.format('%.6f', wait)}
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
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate!r}")
    capacity = float(capacity if capacity is not None else max(rate, 1.0))
    now = time.time() if now is None else float(now)
    if settings.REDIS_URL:
        allowed, wait = _take_script()(
            keys=[key], args=[repr(float(rate)), repr(capacity), repr(now)]
        )
        return Grant(allowed=bool(int(allowed)), wait=float(wait))
    return _local_take(key, float(rate), capacity, now)


def _local_take(key: str, rate: float, capacity: float, now: float) -> Grant:
    with _local_lock:
        tokens, ts = _local_buckets.get(key, (capacity, now))
        if now > ts:
            tokens, ts = min(capacity, tokens + (now - ts) * rate), now
        if tokens >= 1:
            _local_buckets[key] = (tokens - 1, ts)
            return Grant(allowed=True)
        _local_buckets[key] = (tokens, ts)
        return Grant(allowed=False, wait=(1 - tokens) / rate)


def chatbot_take_token(*, chatbot: Chatbot, now: float | None = None) -> Grant:
    """One send slot of the bot's number. messages_per_second = 0 switches the governor off."""
    rate = chatbot.messages_per_second
    if not rate:
        return Grant(allowed=True)
    return bucket_take(key=f"{KEY_PREFIX}{chatbot.pk}", rate=rate, now=now)


def seconds_until(grant: Grant) -> float:
    """A countdown for a refused grant, never below a small floor (a 0.001 s countdown is
    just a busy loop through the broker)."""
    return max(math.ceil(grant.wait * 1000) / 1000, 0.05)
