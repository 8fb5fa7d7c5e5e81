"""The project's own system checks (wetech/checks.py)."""

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def _ours():
    return [message for message in checks.run_checks() if message.id == "wetech.E001"]


def test_the_simulators_with_debug_off_are_an_error(settings):
    settings.DEBUG = False
    settings.GATEWAY_SIMULATOR = True

    [error] = _ours()

    assert error.level == checks.ERROR
    assert error.msg.startswith("GATEWAY_SIMULATOR is on while DEBUG is off")
    with pytest.raises(SystemCheckError, match=r"wetech\.E001"):
        call_command("check")


@pytest.mark.parametrize(("debug", "simulator"), [(True, True), (False, False), (True, False)])
def test_other_combinations_pass(settings, debug, simulator):
    settings.DEBUG = debug
    settings.GATEWAY_SIMULATOR = simulator

    assert _ours() == []


# --- wetech.W001: the embedded task queue with DEBUG off ------------------------------------------


def _broker_warnings():
    return [m for m in checks.run_checks(include_deployment_checks=True) if m.id == "wetech.W001"]


def test_the_embedded_queue_with_debug_off_warns_on_deploy(settings):
    settings.DEBUG = False
    settings.TASK_BROKER_URL = "sqlite:///var/huey.sqlite3"

    [warning] = _broker_warnings()

    assert warning.level == checks.WARNING
    assert str(settings.BASE_DIR / "var" / "huey.sqlite3") in warning.msg
    assert "each machine has a queue of its own" in warning.msg
    # Only `check --deploy` says it: runserver and `make run` stay quiet.
    assert [m for m in checks.run_checks() if m.id == "wetech.W001"] == []


@pytest.mark.parametrize(
    ("debug", "url"),
    [(False, "redis://127.0.0.1:6379/0"), (True, "sqlite:///var/huey.sqlite3")],
)
def test_redis_or_development_does_not_warn(settings, debug, url):
    settings.DEBUG = debug
    settings.TASK_BROKER_URL = url

    assert _broker_warnings() == []
