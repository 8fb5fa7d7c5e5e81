"""List filters on plain columns offer the values of the latest rows (no DISTINCT over the
table) and filter by any value."""

import pytest

from wetech.admin.filters import recent_values_filter
from wetech.admin.sales import LeadAdmin
from wetech.models import Lead
from wetech.tests.scale_helpers import book_add

pytestmark = pytest.mark.django_db


def offered(response, title: str) -> list[str]:
    for spec in response.context["cl"].filter_specs:
        if spec.title == title:
            return [choice["display"] for choice in spec.choices(response.context["cl"])][1:]
    raise AssertionError(f"no filter {title!r}")


def test_the_offer_is_the_values_of_the_latest_rows(admin_client, monkeypatch):
    book_add(3)
    newest = Lead.objects.order_by("-created_at", "-pk").first()
    # An offer read from the latest row alone.
    utm = recent_values_filter("utm_source", "UTM source", newest_first="-created_at", rows=1)
    monkeypatch.setattr(LeadAdmin, "list_filter", ("status", utm))
    response = admin_client.get("/admin/wetech/lead/")
    assert offered(response, "UTM source") == [newest.utm_source]


def test_every_recent_value_is_offered_once(admin_client):
    book_add(3)
    response = admin_client.get("/admin/wetech/lead/")
    assert offered(response, "UTM source") == sorted(
        set(Lead.objects.values_list("utm_source", flat=True))
    )
    assert offered(response, "source page") == sorted(
        set(Lead.objects.values_list("source_page", flat=True))
    )


def test_any_value_filters_even_one_not_offered(admin_client):
    book_add(3)
    oldest = Lead.objects.order_by("created_at").first()
    Lead.objects.exclude(pk=oldest.pk).update(utm_source="google")
    response = admin_client.get("/admin/wetech/lead/", {"utm_source__exact": oldest.utm_source})
    assert list(response.context["cl"].result_list) == [oldest]


def test_the_invoice_currency_filter_offers_the_currencies_in_use(admin_client):
    book_add(2)
    response = admin_client.get("/admin/wetech/invoice/", {"currency__exact": "TZS"})
    assert offered(response, "currency") == ["TZS"]
    assert len(response.context["cl"].result_list) == 2
    response = admin_client.get("/admin/wetech/invoice/", {"currency__exact": "USD"})
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize(
    "model",
    [
        "client",
        "lead",
        "invoice",
        "paymentattempt",
        "ledgerentry",
        "gatewaynotification",
        "outgoingemail",
        "auditentry",
    ],
)
def test_a_large_list_counts_neither_the_table_nor_the_filters(admin_client, model):
    book_add(2)
    response = admin_client.get(f"/admin/wetech/{model}/", {"_facets": "True"})
    changelist = response.context["cl"]
    assert not changelist.add_facets
    assert not changelist.show_full_result_count
    assert "Show counts" not in response.content.decode()
