"""What `POST /leads/` costs the database, counted on the real request: a test here fails when
a change makes a lead cost more queries (issue 13: cut them to what the work needs).

The work, for a new customer asking for a priced service: the service (the form), the client
looked up by email or phone, then inserted (in a savepoint: a concurrent lead with the same
email must not break the transaction), the lead, the invoice and its line (each written once),
the check that this address had no acknowledgement in the last hour, the staff email and the
acknowledgement (one INSERT for both), and last the year's invoice number (one statement) and
the invoice issued with it (one UPDATE): the number's row lock is held from there to the commit,
so nothing else runs under it. 12 statements; the test's own transaction turns the lead's
BEGIN/COMMIT into a savepoint pair, which counts 2 more.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wetech.models import Client, Invoice, InvoiceLine, Lead, OutgoingEmail
from wetech.tests.lead_helpers import lead_post, make_service

pytestmark = pytest.mark.django_db

SERVICE_URL = "/services/business-website/"
# The transaction's savepoint pair under the test's own transaction (BEGIN/COMMIT in production
# are not statements Django counts).
TEST_TRANSACTION = 2
NEW_CUSTOMER_PRICED_LEAD = 12 + TEST_TRANSACTION
# A returning customer: no insert of the client, so no savepoint around it either.
RETURNING_CUSTOMER_PRICED_LEAD = NEW_CUSTOMER_PRICED_LEAD - 3
# No service: no service read, no invoice, line, number or issue.
NEW_CUSTOMER_ENQUIRY = NEW_CUSTOMER_PRICED_LEAD - 5


@pytest.fixture
def priced(settings):
    settings.STAFF_EMAILS = ["sales@wetech.co.tz"]
    return make_service(price=Decimal("350000"))


def _form(client, page=SERVICE_URL, **typed) -> dict:
    return lead_post(client, page, **typed)


def test_a_new_customers_lead_for_a_priced_service(client, priced, django_assert_max_num_queries):
    data = _form(client)
    with django_assert_max_num_queries(NEW_CUSTOMER_PRICED_LEAD):
        response = client.post("/leads/", data)
    assert response.status_code == 303
    invoice = Invoice.objects.get()
    assert response["Location"] == invoice.get_absolute_url()
    assert invoice.status == Invoice.Status.ISSUED and invoice.number.endswith("-00001")
    assert invoice.total == Decimal("413000.00")
    assert InvoiceLine.objects.get(invoice=invoice).amount == Decimal("350000.00")
    assert Lead.objects.get().client == Client.objects.get()
    assert sorted(OutgoingEmail.objects.values_list("template", flat=True)) == [
        "lead_acknowledgement",
        "lead_staff",
    ]


def test_a_returning_customers_lead_costs_less(client, priced, django_assert_max_num_queries):
    assert client.post("/leads/", _form(client)).status_code == 303
    data = _form(client, phone="0754 000 111", message="A second site, please.")
    with django_assert_max_num_queries(RETURNING_CUSTOMER_PRICED_LEAD):
        response = client.post("/leads/", data)
    assert response.status_code == 303
    assert Client.objects.count() == 1
    assert Invoice.objects.count() == 2
    assert Lead.objects.filter(client=Client.objects.get()).count() == 2


def test_a_general_enquiry(client, priced, django_assert_max_num_queries):
    data = _form(client, "/contact/", message="Tunahitaji msaada wa IT.")
    with django_assert_max_num_queries(NEW_CUSTOMER_ENQUIRY):
        response = client.post("/leads/", data)
    assert response.status_code == 303
    assert Lead.objects.get().service is None
    assert Invoice.objects.count() == 0


def test_the_cost_of_a_lead_does_not_grow_with_the_leads_already_stored(client, priced):
    counts = []
    for n in range(5):
        data = _form(client, email=f"customer{n}@example.co.tz", phone=f"0712 000 {n:03d}")
        with CaptureQueriesContext(connection) as queries:
            assert client.post("/leads/", data).status_code == 303
        counts.append(len(queries))
    assert counts == [counts[0]] * 5
    assert counts[0] <= NEW_CUSTOMER_PRICED_LEAD
