"""wetech.cache: Django's Redis cache with one client per pool and a one-trip `incr`, against
the real Redis of the PostgreSQL + Redis pass (skipped without REDIS_URL)."""

import threading
import uuid

import pytest
from django.conf import settings

from wetech.cache import PooledRedisCache

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs REDIS_URL (the PostgreSQL + Redis pass)"
)


@pytest.fixture
def cache():
    backend = PooledRedisCache(settings.REDIS_URL, {"KEY_PREFIX": f"cache-test-{uuid.uuid4()}"})
    yield backend
    backend.close()


def _commands(backend) -> list[str]:
    """Wrap the client's command hook: every command sent to Redis, by name."""
    client = backend._cache.get_client(write=True)
    sent: list[str] = []
    original = client.execute_command

    def counting(*args, **options):
        sent.append(str(args[0]).upper())
        return original(*args, **options)

    client.execute_command = counting
    return sent


def test_every_operation_uses_the_one_client_of_its_pool(cache):
    first = cache._cache.get_client(write=True)

    cache.set("a", 1)
    cache.get("a")

    assert cache._cache.get_client() is first
    assert cache._cache.get_client(write=True) is first


def test_threads_share_the_client_and_each_gets_its_own_answers(cache):
    errors = []

    def work(n):
        try:
            for i in range(50):
                cache.set(f"k{n}", (n, i))
                assert cache.get(f"k{n}") == (n, i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []


def test_incr_is_one_round_trip(cache):
    cache.set("counter", 5)
    assert cache.incr("counter") == 6  # the first loads the script into Redis, once
    sent = _commands(cache)

    assert cache.incr("counter", 10) == 16

    assert sent == ["EVALSHA"]
    assert cache.get("counter") == 16


def test_incr_of_a_missing_key_raises_and_creates_nothing(cache):
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")

    assert cache.get("missing") is None
    assert not cache.has_key("missing")


def test_incr_keeps_the_counters_timeout(cache):
    # django-ratelimit's window: `add` with a timeout, then `incr` must not make it permanent.
    assert cache.add("window", 1, timeout=30)
    cache.incr("window")

    client = cache._cache.get_client()
    ttl = client.ttl(cache.make_and_validate_key("window"))
    assert 0 < ttl <= 30
    assert cache.get("window") == 2
