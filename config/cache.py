"""Django's Redis cache backend, with one redis-py client per connection pool instead of
one per call.

Django's RedisCacheClient.get_client builds a new `redis.Redis` object for every cache
operation (django/core/cache/backends/redis.py); redis-py's constructor fills a table of
response callbacks each time, which the benchmarks' profiles showed as a tenth of the
processor's and the sender's CPU (a cache read per message: the subscription gate, the
campaign reply check). A client is a thin, thread-safe handle on its pool (redis-py:
https://redis.readthedocs.io/en/stable/connections.html), so keeping it changes nothing else.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients[index] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
