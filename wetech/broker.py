"""TASK_BROKER_URL -> the `HUEY` setting that `huey.contrib.djhuey` reads.

Two kinds of queue, chosen by the URL's scheme:
- `redis://` or `rediss://` (production): a RedisHuey shared by the workers of every machine;
- `sqlite:///relative/path` or `sqlite:////absolute/path`: the embedded SqliteHuey, a file on this
  machine (`make run`, the SQLite tests). A relative path is taken from the project folder.

Read by settings before apps load: imports nothing of wetech and no Django model.
"""

from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

QUEUE_NAME = "wetech"
REDIS_SCHEMES = ("redis", "rediss")


def broker_kind(url: str) -> str:
    """ "redis" or "sqlite" (ImproperlyConfigured for anything else)."""
    scheme = urlsplit(url).scheme
    if scheme in REDIS_SCHEMES:
        return "redis"
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return "sqlite"
    raise ImproperlyConfigured(
        f"TASK_BROKER_URL must be redis://host:port/db or sqlite:///path/to/queue.sqlite3, "
        f"not a {scheme or 'schemeless'} URL."
    )


def sqlite_queue_path(url: str, *, base_dir: Path) -> Path:
    path = Path(url[len("sqlite:///") :])
    return path if path.is_absolute() else Path(base_dir) / path


def huey_settings(url: str, *, base_dir: Path, consumer: dict) -> dict:
    """The djhuey configuration for the queue at `url`.

    Never Huey's immediate mode (djhuey turns it on with DEBUG unless told): `make run` has a real
    worker, and a task run inside the request would defeat the point. No result store: nothing
    reads a task's return value, and Redis would keep every one of them.
    """
    config = {
        "name": QUEUE_NAME,
        "immediate": False,
        "results": False,
        "utc": True,
        "consumer": consumer,
    }
    if broker_kind(url) == "redis":
        return {**config, "huey_class": "huey.RedisHuey", "url": url}
    path = sqlite_queue_path(url, base_dir=base_dir)
    # The queue opens (and creates) its file when Django loads; its folder must exist by then.
    path.parent.mkdir(parents=True, exist_ok=True)
    # No fsync per task (WAL, synchronous=OFF): a task survives the worker or the site being
    # killed, and only a machine crash can lose the last ones, which nothing depends on (every
    # email is an outbox row the sweep queues again). With fsync each queued email cost the
    # request a disk flush of its own, as much as the lead's whole transaction.
    return {**config, "huey_class": "huey.SqliteHuey", "filename": str(path), "fsync": False}
