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
