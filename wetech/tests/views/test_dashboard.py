"""The dashboard page: staff only, linked from the admin, strict CSP, charts that parse, and a
query count that does not grow with the tables."""

import importlib
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches

from wetech.models import Invoice, Refund, ReviewCase
from wetech.tests.dashboard_helpers import (
    NOW,
    at,
    build_book,
    catalogue,
    lead_at,
    local,
    payment_at,
    refund_completed_at,
    refund_requested_at,
    reversal_at,
    review_case_at,
    set_status,
    staff_invoice_at,
)

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"
SVG = "{http://www.w3.org/2000/svg}"
# What a page of the dashboard may cost, whatever the size of the tables: the session, the user
# and the user's two permission lookups (the admin's menu), then the funnel, revenue and unpaid
# figures (1 + 1 + 2), and a list and a count each for review cases and refunds.
MAX_QUERIES = 12


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user(
        "finance", password="a-long-password-1", is_staff=True
    )
    client.force_login(user)
    return client


@pytest.fixture
def row_admins():
    """The review-case and refund admins, when the branch that adds them is not merged yet: the
    page links to whatever admin is registered for those models."""
    added = [model for model in (ReviewCase, Refund) if not admin.site.is_registered(model)]
    for model in added:
        admin.site.register(model)
    _reload_urls()
    yield
    for model in added:
        admin.site.unregister(model)
    _reload_urls()


def _reload_urls():
    # The admin's routes are read from its registry when the URLconf is imported.
    importlib.reload(import_module(settings.ROOT_URLCONF))
    clear_url_caches()


def chart_svgs(html: str) -> list[ET.Element]:
    return [
        ET.fromstring(match)  # noqa: S314 -- our own page, parsed to prove it is well-formed
        for match in re.findall(r'<svg xmlns="[^"]+" class="wt-chart-svg".*?</svg>', html, re.S)
    ]


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/dashboard/"


def test_signed_in_non_staff_is_sent_to_the_login_page(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="a-long-password-1")
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_see_the_dashboard_with_the_book_s_figures(staff_client, row_admins):
    book = build_book()
    with at(NOW):
        response = staff_client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Dashboard | WeTech admin</title>" in html
    # The figures, as the tables and the at-a-glance tiles print them.
    assert "TZS 6,911,000" in html  # due on the 8 unpaid invoices
    assert "net TZS 3,231,000" in html
    assert "TZS 1,700,000" in html  # net received in March so far
    assert "Other currencies (not in the charts)" in html
    assert "75.0%" in html and "33.3%" in html
    # Each open row links to its admin page and to its invoice's.
    case, refund = book.open_case, book.refund_in_flight
    assert f'href="/admin/wetech/reviewcase/{case.pk}/change/"' in html
    assert f'href="/admin/wetech/invoice/{case.invoice_id}/change/">{case.invoice.number}<' in html
    assert f'href="/admin/wetech/refund/{refund.pk}/change/"' in html
    assert (
        f'href="/admin/wetech/invoice/{refund.invoice_id}/change/">{refund.invoice.number}<' in html
    )
    assert 'href="/admin/wetech/reviewcase/?status__exact=open"' in html
    assert 'href="/admin/wetech/refund/?status__exact=requested"' in html


def test_charts_are_well_formed_svg_with_title_desc_and_labels(staff_client):
    build_book()
    with at(NOW):
        html = staff_client.get(URL).content.decode()

    charts = chart_svgs(html)
    assert len(charts) == 5
    for svg in charts:
        assert svg.get("role") == "img"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and title.text
        assert desc is not None and desc.text
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        bars = svg.findall(f".//{SVG}rect")
        assert bars and all(bar.find(f"{SVG}title").text for bar in bars)
    ticks = [t.text for svg in charts for t in svg.iter(f"{SVG}text")]
    assert "TZS 2,000,000" in ticks  # the revenue axes
    assert "TZS 3,540,000" in ticks  # the oldest unpaid bucket


def test_page_keeps_the_strict_content_security_policy(staff_client):
    build_book()
    response = staff_client.get(URL)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    html = response.content.decode()
    assert " style=" not in html and "<style" not in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert '<link rel="stylesheet" href="/static/css/dashboard.css">' in html


def test_page_without_any_data_still_draws(staff_client):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert len(chart_svgs(response.content.decode())) == 5
    assert "No open review case" in response.content.decode()


def test_admin_index_and_header_link_to_the_dashboard(staff_client, admin_client):
    index = staff_client.get("/admin/").content.decode()
    assert index.count('href="/admin/dashboard/"') >= 2  # the index entry and the header link
    invoices = admin_client.get("/admin/wetech/invoice/").content.decode()
    assert '<a href="/admin/dashboard/">Dashboard</a> /' in invoices


def _grow(count: int, services) -> None:
    """`count` more invoices of every kind: leads paid, charged back, refunded, unpaid, with
    review cases and refunds in flight."""
    for index in range(count):
        day = local(2026, 1 + index % 3, 1 + index % 27, 10)
        _, invoice = lead_at(day, services["website" if index % 2 else "hosting"])
        if index % 4 == 0:
            continue
        attempt = payment_at(day, invoice, "pesapal" if index % 3 else "azampay")
        set_status(invoice, Invoice.Status.PAID, day)
        if index % 4 == 1:
            reversal_at(day, attempt)
            set_status(invoice, Invoice.Status.NEEDS_REVIEW)
            review_case_at(day, attempt)
        elif index % 4 == 2:
            refund_requested_at(day, attempt, Decimal(1000))
        else:
            refund_completed_at(day, day, attempt, Decimal(1000))
    staff_invoice_at(local(2026, 2, 1), Decimal(99), currency="USD")


def _queries(client) -> int:
    with at(NOW), CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_the_rows(
    staff_client, row_admins, django_assert_max_num_queries
):
    services = catalogue()
    _grow(3, services)
    with django_assert_max_num_queries(MAX_QUERIES):
        few = _queries(staff_client)

    _grow(27, services)
    assert Invoice.objects.count() == 30 + 2
    with django_assert_max_num_queries(MAX_QUERIES):
        many = _queries(staff_client)

    assert few == many
