"""`manage.py gateway_check` against the simulators themselves (live_server + simulator settings).

The simulators answer exactly the committed shapes (wetech/tests/sandbox/test_shapes.py), so the
command must agree with them; a shape file altered in a copy must make it report and fail.
"""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from wetech.payments.gateways.shape_check import SHAPES_DIR
from wetech.tests.payments.gateways.conftest import _fresh_clients, capture  # noqa: F401
from wetech.tests.sandbox.conftest import simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _check(*args) -> list[str]:
    out = StringIO()
    call_command("gateway_check", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_simulators_agree_with_the_committed_shapes(simulator):  # noqa: F811
    assert _check() == [
        "pesapal RequestToken: HTTP 200, agrees",
        "pesapal GetIpnList: HTTP 200, agrees",
        "pesapal GetTransactionStatus (unknown order): HTTP 200, agrees",
        "azampay GenerateToken: HTTP 200, agrees",
        "azampay GetTransactionStatus (unknown transaction): HTTP 404, agrees",
        "every shape agrees (pesapal, azampay)",
    ]


def test_create_places_the_smallest_orders_and_asks_their_status(simulator):  # noqa: F811
    lines = _check("--create", "--phone", "255712345999")

    assert lines == [
        "pesapal RequestToken: HTTP 200, agrees",
        "pesapal GetIpnList: HTTP 200, agrees",
        "pesapal GetTransactionStatus (unknown order): HTTP 200, agrees",
        "pesapal RegisterIPN: HTTP 200, agrees",
        "pesapal SubmitOrderRequest: HTTP 200, agrees",
        "pesapal GetTransactionStatus: HTTP 200, agrees",
        "azampay GenerateToken: HTTP 200, agrees",
        "azampay GetTransactionStatus (unknown transaction): HTTP 404, agrees",
        "azampay MnoCheckout: HTTP 200, agrees",
        "azampay GetTransactionStatus: HTTP 200, agrees",
        "every shape agrees (pesapal, azampay)",
    ]
    # The second run finds this site's IPN registration instead of registering again.
    assert "pesapal RegisterIPN: HTTP 200, agrees" not in _check("--gateway", "pesapal", "--create")


@pytest.fixture
def altered_shapes(tmp_path):
    shapes = tmp_path / "shapes"
    shutil.copytree(SHAPES_DIR, shapes)
    path = shapes / "pesapal.json"
    document = json.loads(path.read_text())
    status = document["calls"]["GetTransactionStatus"]["body"]["properties"]
    status["payment_method"] = {"type": "null"}
    status["status_code"]["enum"] = [1, 2, 3]
    del document["calls"]["RequestToken"]["body"]["properties"]["message"]
    path.write_text(json.dumps(document))
    return shapes


def test_an_altered_shape_file_is_reported_line_by_line_and_fails(
    simulator,  # noqa: F811
    altered_shapes,
    capsys,
    settings,
):
    # As `make run` serves the simulators: the system checks refuse them with DEBUG off.
    settings.DEBUG = True
    with pytest.raises(SystemExit) as exit_:
        ManagementUtility(
            [
                "manage.py",
                "gateway_check",
                "--gateway",
                "pesapal",
                "--create",
                "--shapes",
                str(altered_shapes),
            ]
        ).execute()

    out, err = capsys.readouterr()
    assert exit_.value.code == 1
    assert [line for line in out.splitlines() if "agrees" not in line] == [
        "pesapal RequestToken: field message: not in the shape (got string)",
        "pesapal GetTransactionStatus: field payment_method: expected null, got string",
        "pesapal GetTransactionStatus: field status_code: unexpected word 0 (known: 1, 2, 3)",
    ]
    # stderr also carries the live server's request log; the reason is the last line.
    assert err.strip().splitlines()[-1] == (
        "CommandError: the gateways do not answer in the committed shapes: pesapal: 3 differences"
    )


def test_wrong_credentials_show_the_error_shape_and_stop(simulator, settings):  # noqa: F811
    settings.PESAPAL_CONSUMER_SECRET = "wrong"

    with pytest.raises(CommandError) as error:
        _check("--gateway", "pesapal")

    assert str(error.value).startswith(
        "the gateways do not answer in the committed shapes: pesapal: "
    )
    assert str(error.value).endswith(
        "; stopped at RequestToken: no token in the answer, so no other call was made"
    )


def test_an_unconfigured_gateway_or_none_at_all_is_one_line(settings):
    for name in ("PESAPAL_CONSUMER_KEY", "AZAMPAY_CLIENT_ID"):
        setattr(settings, name, "")

    with pytest.raises(CommandError, match=r"^no gateway is configured"):
        _check()
    with pytest.raises(CommandError, match=r"^azampay: not configured: set AZAMPAY_APP_NAME"):
        _check("--gateway", "azampay")
