"""`check_data_integrity`: one line per finding, a summary, and an exit status cron can act on."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django.core.management.base import BaseCommand
from django.utils import timezone

from wetech.models import InvoiceCounter, PaymentAttempt
from wetech.tests.integrity_helpers import build_world, number

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def _run(*args):
    out = StringIO()
    call_command("check_data_integrity", *args, stdout=out)
    return out.getvalue()


def _exit_status(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run the command as manage.py would, returning (exit status, stdout, stderr)."""
    # manage.py closes the connections on the way out; the test's transaction must survive it.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    command: BaseCommand = load_command_class("wetech", "check_data_integrity")
    try:
        command.run_from_argv(["manage.py", "check_data_integrity", *args])
        status = 0
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_clean_database_exits_0_with_no_findings(world, monkeypatch, capsys):
    status, out, err = _exit_status(monkeypatch, capsys)
    assert status == 0
    assert out == "check_data_integrity: no findings\n"
    assert err == ""


def test_each_finding_is_one_line_then_a_summary_and_exit_1(world, monkeypatch, capsys):
    InvoiceCounter.objects.filter(year=world.year).update(last_number=3)
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(
        expires_at=timezone.now() - timedelta(hours=2)
    )
    status, out, err = _exit_status(monkeypatch, capsys)
    lines = out.splitlines()
    assert status == 1
    assert lines[0] == (
        f"invoice_number_gap {number(world.year, 3)}: No invoice carries "
        f"{number(world.year, 3)} although the {world.year} sequence reached 3 (counter at 3)."
    )
    assert lines[1].startswith(f"attempt_stuck {world.open_attempt.merchant_reference}: Still")
    assert lines[2] == ("check_data_integrity: 2 findings (1 attempt_stuck, 1 invoice_number_gap)")
    assert len(lines) == 3
    assert err == (
        "CommandError: data integrity audit: 2 findings (1 attempt_stuck, 1 invoice_number_gap)\n"
    )


def test_json_output(world):
    InvoiceCounter.objects.filter(year=world.year).update(last_number=3)
    out = StringIO()
    with pytest.raises(CommandError, match="1 finding \\(1 invoice_number_gap\\)"):
        call_command("check_data_integrity", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["count"] == 1
    assert report["summary"] == "1 finding (1 invoice_number_gap)"
    assert report["findings"] == [
        {
            "kind": "invoice_number_gap",
            "reference": number(world.year, 3),
            "description": f"No invoice carries {number(world.year, 3)} although the "
            f"{world.year} sequence reached 3 (counter at 3).",
        }
    ]
    assert report["checked_at"]


def test_json_output_when_clean(world):
    report = json.loads(_run("--json"))
    assert (report["count"], report["summary"], report["findings"]) == (0, "no findings", [])


def test_grace_minutes_widen_the_tolerance_for_stuck_attempts(world):
    PaymentAttempt.objects.filter(pk=world.open_attempt.pk).update(
        expires_at=timezone.now() - timedelta(hours=2)
    )
    assert _run("--grace-minutes", "180") == "check_data_integrity: no findings\n"
    with pytest.raises(CommandError, match="attempt_stuck"):
        _run("--grace-minutes", "30")


def test_a_negative_grace_is_refused(world):
    with pytest.raises(CommandError, match="--grace-minutes must be 0 or more"):
        _run("--grace-minutes", "-1")
