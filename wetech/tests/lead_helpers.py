"""Builders shared by the lead and invoice tests (plain functions, not fixtures)."""

import re
from decimal import Decimal
from html import unescape

from wetech.models import Service


def make_service(**overrides) -> Service:
    fields = {
        "name": "Business website",
        "slug": "business-website",
        "summary": "A fast website.",
        "price": Decimal("350000"),
        **overrides,
    }
    return Service.objects.create(**fields)


def hidden_fields(html: str) -> dict:
    """Every hidden input of a page, as a browser would post it back."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        if 'type="hidden"' not in tag:
            continue
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


def lead_post(client, page_url: str, **fields) -> dict:
    """GET the page, then the data a person would send from it: hidden fields plus typing."""
    page = client.get(page_url)
    assert page.status_code == 200
    data = hidden_fields(page.content.decode())
    data.update(
        {
            "name": "Asha Mwinyi",
            "email": "asha@example.co.tz",
            "phone": "0712 345 678",
            "company": "Mwinyi Traders",
            "message": "",
            "website": "",
        }
    )
    data.update(fields)
    return data
