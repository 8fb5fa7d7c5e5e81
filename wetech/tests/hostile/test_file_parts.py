"""No endpoint takes a file, so a multipart file part is refused before any upload handler sees
it: nothing is spooled to disk (`FILE_UPLOAD_TEMP_DIR` stays empty and no handler is asked to
open a file), the answer is the project's 400, and nothing is saved. Before, an 8 MB part was
written to a temporary file even by `/leads/` ahead of its CSRF 403.

The real upload handlers stay installed; a witness handler in front of them records whether a
file part ever reached them and what the temporary folder held when the upload completed.
"""

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client as HttpClient

from wetech.models import Client, GatewayNotification, Invoice, Lead, LedgerEntry, PaymentAttempt
from wetech.payments.start import payment_start
from wetech.tests.lead_helpers import hidden_fields, make_service
from wetech.tests.payment_helpers import issued_invoice

pytestmark = pytest.mark.django_db

SECRET = "simulator-callback-secret-0123456789abcdef"
EIGHT_MB = 8 * 1024 * 1024
SEEN: list[tuple[str, list[str]]] = []


class SpoolWitness(FileUploadHandler):
    """First in the chain: notes each file part handed to the handlers, and the temporary
    folder's contents once the upload is complete (the spooled file is still open then)."""

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        SEEN.append(("new_file", [file_name]))

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None

    def upload_complete(self):
        from django.conf import settings

        SEEN.append(
            (
                "upload_complete",
                sorted(p.name for p in Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()),
            )
        )


@pytest.fixture
def spool_dir(settings, tmp_path):
    SEEN.clear()
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.FILE_UPLOAD_HANDLERS = [
        f"{__name__}.SpoolWitness",
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    yield folder
    SEEN.clear()


@pytest.fixture
def attempts(fakes):
    invoice = issued_invoice()
    return (
        payment_start(invoice=invoice, gateway="pesapal").attempt,
        payment_start(
            gateway="azampay", invoice=invoice, phone="+255712345678", provider="Mpesa"
        ).attempt,
    )


def _big_file(name="cv.pdf") -> io.BytesIO:
    part = io.BytesIO(b"%PDF" + b"x" * EIGHT_MB)
    part.name = name
    return part


def _rows():
    return (
        Client.objects.count(),
        Lead.objects.count(),
        list(Invoice.objects.order_by("pk").values_list("pk", "status")),
        list(PaymentAttempt.objects.order_by("pk").values_list("pk", "status")),
        LedgerEntry.objects.count(),
    )


def _assert_refused_unspooled(response, folder, *, as_json):
    assert response.status_code == 400
    if as_json:
        assert response.json()["error"]["code"] == "bad_request"
    else:
        assert "We could not understand that request." in response.content.decode()
    assert SEEN == []
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("as_json", [False, True])
def test_a_file_part_on_the_lead_form_is_refused_before_csrf_and_never_spooled(spool_dir, as_json):
    make_service(slug="business-website")
    browser = HttpClient(enforce_csrf_checks=True)
    page = browser.get("/services/business-website/")
    data = {
        **hidden_fields(page.content.decode()),
        "name": "Asha Mwinyi",
        "email": "asha@example.co.tz",
        "phone": "0712 345 678",
        "attachment": _big_file(),
    }
    extra = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    # With its CSRF token and without: the file part is refused first either way.
    with_token = browser.post("/leads/", data, **extra)
    _assert_refused_unspooled(with_token, spool_dir, as_json=as_json)
    data.pop("csrfmiddlewaretoken")
    without = browser.post("/leads/", {**data, "attachment": _big_file()}, **extra)
    _assert_refused_unspooled(without, spool_dir, as_json=as_json)
    assert _rows() == (0, 0, [], [], 0)


@pytest.mark.parametrize("gateway", ["pesapal", "azampay"])
def test_a_file_part_on_a_pay_form_is_refused_and_starts_nothing(spool_dir, attempts, gateway):
    invoice = attempts[0].invoice
    browser = HttpClient(enforce_csrf_checks=True)
    page = browser.get(f"/invoices/{invoice.token}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    before = _rows()
    response = browser.post(
        f"/invoices/{invoice.token}/pay/{gateway}/",
        {
            "csrfmiddlewaretoken": token,
            "phone": "0712345678",
            "provider": "Mpesa",
            "receipt": _big_file("receipt.png"),
        },
    )
    _assert_refused_unspooled(response, spool_dir, as_json=False)
    assert _rows() == before


@pytest.mark.parametrize(
    "url",
    ["/payments/pesapal/ipn/?OrderTrackingId={tracking}", f"/payments/azampay/callback/{SECRET}/"],
)
def test_a_file_part_on_a_callback_is_recorded_then_refused_unspooled(
    client, spool_dir, attempts, url
):
    pesapal, azampay = attempts
    before = _rows()
    response = client.post(
        url.format(tracking=pesapal.gateway_reference),
        {
            "OrderTrackingId": pesapal.gateway_reference,
            "utilityref": azampay.merchant_reference,
            "transactionstatus": "success",
            "payload": _big_file("payload.json"),
        },
    )
    _assert_refused_unspooled(response, spool_dir, as_json=True)
    assert _rows() == before
    # What arrived is recorded first, without the body it could not read.
    notification = GatewayNotification.objects.get()
    assert notification.result == GatewayNotification.Result.REJECTED
    assert notification.error == "the body could not be read (TooManyFilesSent)"
    assert notification.body == ""


@pytest.mark.parametrize("path", ["/", "/contact/", "/leads/thanks/", "/admin/login/"])
def test_a_file_part_posted_to_any_other_page_is_refused_unspooled(spool_dir, path):
    browser = HttpClient(enforce_csrf_checks=True)
    # Without a CSRF cookie the body is never read: 403, nothing spooled.
    response = browser.post(path, {"username": "admin", "upload": _big_file()})
    assert response.status_code == 403
    assert (SEEN, list(spool_dir.iterdir())) == ([], [])
    # With one (a visitor who loaded a page), the CSRF check reads the body: the file part is
    # refused there.
    browser.get("/contact/")
    response = browser.post(path, {"username": "admin", "upload": _big_file()})
    _assert_refused_unspooled(response, spool_dir, as_json=False)


def test_multipart_without_files_still_works(client):
    """Only file parts are refused: a form sent as multipart/form-data still goes through."""
    make_service(slug="business-website")
    data = hidden_fields(client.get("/services/business-website/").content.decode())
    data.update(name="Asha Mwinyi", email="asha@example.co.tz", phone="0712 345 678")
    response = client.post("/leads/", data)  # the test client sends multipart/form-data
    assert response.status_code == 303
    assert Lead.objects.count() == 1
