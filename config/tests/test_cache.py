"""config.cache: Django's Redis cache, one redis-py client per pool instead of one per call."""

from __future__ import annotations

from django.core.cache import caches

from config.cache import RedisCache


def test_the_redis_cache_reuses_its_client_and_still_reads_and_writes():
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    cache.set("config-cache-test", {"a": 1}, 30)
    assert cache.get("config-cache-test") == {"a": 1}
    client = cache._cache
    assert client.get_client(write=True) is client.get_client(write=True)
    assert client.get_client() is client.get_client()
    cache.delete("config-cache-test")
    assert cache.get("config-cache-test") is None
