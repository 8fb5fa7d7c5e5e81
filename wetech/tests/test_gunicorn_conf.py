import os
import runpy
from types import SimpleNamespace

from gunicorn.config import Config

from wetech.tests.conftest import REPO_ROOT


def _load(monkeypatch, **env) -> dict:
    """gunicorn.conf.py as gunicorn reads it, under the given environment."""
    monkeypatch.delenv("GUNICORN_THREADS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))


def test_workers_are_threaded_with_threads_from_the_environment(monkeypatch):
    conf = _load(monkeypatch)
    assert conf["worker_class"] == "gthread"
    assert conf["threads"] == 4

    assert _load(monkeypatch, GUNICORN_THREADS="6")["threads"] == 6


def test_each_worker_tells_the_app_how_many_threads_it_really_runs(monkeypatch):
    conf = _load(monkeypatch, GUNICORN_THREADS="6")
    cfg = Config()
    cfg.set("threads", 3)  # `--threads 3` on the command line wins over the environment

    conf["post_fork"](SimpleNamespace(cfg=cfg), None)

    assert os.environ["GUNICORN_THREADS"] == "3"
