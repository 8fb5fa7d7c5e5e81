"""Django's Redis cache backend, with one client per connection pool and a one-trip `incr`.

Django's `RedisCacheClient` builds a new `redis.Redis` for every cache operation, and building
one fills its table of some 170 response callbacks: on the IPN path, with its dozen cache
operations (rate limit, status-query coalescing, circuit breaker, bulkhead, token), that cost
more than the round trips themselves (`bench/profile_requests.py`: 4.9 of 56 ms per IPN under
cProfile). A `redis.Redis` may be shared between threads (each command borrows a connection from
the pool), so one per pool is kept here.

Django's `incr` is two round trips (EXISTS, then INCRBY). Here it is one: a Lua script that
increments only a key that exists, so a counter that expired in between is never recreated
without its timeout (Django's contract: `ValueError` for a missing key). django-ratelimit counts
every limited request with `add` then `incr`.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

# Returns the new value, or false (nil to the client) when the key does not exist.
_INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Pool index -> the one client over that pool (pools are made once per index and kept).
        self._clients = {}
        self._incr_scripts = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            # setdefault: two threads building the first one at once keep the same.
            client = self._clients.setdefault(
                index, self._client(connection_pool=self._pool_at(index))
            )
        return client

    def _pool_at(self, index):
        # Django's `_get_connection_pool(write)`, for an index already chosen.
        if index not in self._pools:
            self._pools[index] = self._pool_class.from_url(
                self._servers[index], **self._pool_options
            )
        return self._pools[index]

    def incr(self, key, delta):
        client = self.get_client(key, write=True)
        script = self._incr_scripts.get(id(client))
        if script is None:
            script = self._incr_scripts.setdefault(
                id(client), client.register_script(_INCR_EXISTING)
            )
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class PooledRedisCache(RedisCache):
    """`django.core.cache.backends.redis.RedisCache` over `PooledRedisCacheClient`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
