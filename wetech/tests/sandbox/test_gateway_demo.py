"""`gateway_demo`, the sandbox app's command: the Pesapal client paying on the simulator."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sandbox.testing import simulator_settings


@pytest.fixture
def simulators_on(settings):
    # As `make run` starts: the sandbox app installed (the demo serves its own site on top).
    for name, value in simulator_settings("http://127.0.0.1:8000").items():
        setattr(settings, name, value)


@pytest.mark.parametrize(("outcome", "final"), [("pay", "completed"), ("fail", "failed")])
def test_gateway_demo_pays_through_the_simulator_over_http(simulators_on, outcome, final):
    out = StringIO()

    call_command("gateway_demo", outcome=outcome, stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[5] == "6. GetTransactionStatus before paying: pending"
    assert lines[7].startswith(f"8. GetTransactionStatus after: {final}, TZS 413000.00")


def test_without_the_simulators_there_is_no_demo():
    with pytest.raises(CommandError, match="Unknown command: 'gateway_demo'"):
        call_command("gateway_demo")
