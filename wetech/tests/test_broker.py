"""TASK_BROKER_URL -> the djhuey configuration, and the queue this test run really uses."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from huey import RedisHuey, SqliteHuey
from huey.contrib.djhuey import HUEY

from wetech.broker import broker_kind, huey_settings

CONSUMER = {"workers": 2, "worker_type": "thread"}


def test_a_redis_url_is_a_shared_redis_queue(tmp_path):
    config = huey_settings("redis://10.0.0.5:6379/3", base_dir=tmp_path, consumer=CONSUMER)

    assert config == {
        "name": "wetech",
        "huey_class": "huey.RedisHuey",
        "url": "redis://10.0.0.5:6379/3",
        "immediate": False,
        "results": False,
        "utc": True,
        "consumer": CONSUMER,
    }


@pytest.mark.parametrize(
    ("url", "relative"),
    [("sqlite:///var/huey.sqlite3", "var/huey.sqlite3"), ("sqlite:///q.db", "q.db")],
)
def test_a_relative_sqlite_path_is_taken_from_the_project_folder(tmp_path, url, relative):
    config = huey_settings(url, base_dir=tmp_path, consumer=CONSUMER)

    assert config["huey_class"] == "huey.SqliteHuey"
    assert config["filename"] == str(tmp_path / relative)
    assert config["immediate"] is False
    assert (tmp_path / relative).parent.is_dir()  # the queue can open its file


def test_an_absolute_sqlite_path_stays(tmp_path):
    url = f"sqlite:///{tmp_path}/queue/huey.sqlite3"  # four slashes: an absolute path
    config = huey_settings(url, base_dir=Path("/elsewhere"), consumer=CONSUMER)

    assert config["filename"] == str(tmp_path / "queue" / "huey.sqlite3")


@pytest.mark.parametrize(
    "url", ["memory://", "amqp://guest@localhost//", "sqlite://", "/var/huey.sqlite3", ""]
)
def test_anything_else_is_refused_with_one_sentence(url):
    with pytest.raises(ImproperlyConfigured, match="TASK_BROKER_URL must be redis://"):
        broker_kind(url)


def test_the_sqlite_pass_queues_on_an_embedded_file_of_its_own():
    if settings.REDIS_URL:
        pytest.skip("this pass has Redis: the queue is Redis")
    assert isinstance(HUEY, SqliteHuey)
    assert HUEY.immediate is False
    # Not make run's var/huey.sqlite3 (conftest gives each test process its own file).
    assert Path(HUEY.storage.filename).name == f"wetech-test-huey-{os.getpid()}.sqlite3"


def test_with_redis_the_queue_really_is_redis():
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (the PostgreSQL + Redis pass)")
    assert settings.TASK_BROKER_URL == settings.REDIS_URL
    assert isinstance(HUEY, RedisHuey)
    assert HUEY.immediate is False
    kwargs = HUEY.storage.conn.connection_pool.connection_kwargs
    expected = settings.REDIS_URL.rsplit("/", 1)
    assert f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs['db']}" == "/".join(expected)
    # And it answers: a task enqueued is in Redis.
    HUEY.storage.enqueue(b"probe")
    assert HUEY.pending_count() == 1
