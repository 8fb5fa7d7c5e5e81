"""Loading a catalogue: matched by slug, in order, active; a second load duplicates nothing."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.utils import translation

from wetech.models import Service
from wetech.sales.catalogue import DEMO_CATALOGUE, catalogue_load
from wetech.sales.selectors import service_list_offered

pytestmark = pytest.mark.django_db

ENTRIES = [
    {"slug": "hosting", "name": "Hosting", "summary": "Yearly.", "price": Decimal("450000")},
    {"slug": "app", "name": "App", "summary": "Quoted.", "price": None},
]


def test_a_catalogue_is_created_in_order_active_and_in_shillings():
    assert catalogue_load(entries=ENTRIES) == (2, 0)

    rows = list(Service.objects.values_list("slug", "order", "active", "currency", "price"))
    assert rows == [
        ("hosting", 10, True, "TZS", Decimal("450000.00")),
        ("app", 20, True, "TZS", None),
    ]


def test_loading_again_updates_by_slug_and_brings_a_hidden_service_back():
    catalogue_load(entries=ENTRIES)
    Service.objects.filter(slug="hosting").update(active=False, name="Renamed by staff")

    assert catalogue_load(entries=list(reversed(ENTRIES))) == (0, 2)

    assert list(service_list_offered().values_list("slug", "name")) == [
        ("app", "App"),
        ("hosting", "Hosting"),
    ]


def test_an_entry_that_breaks_a_rule_loads_nothing():
    broken = [*ENTRIES, {"slug": "free", "name": "Free", "summary": "-", "price": Decimal("0")}]
    with pytest.raises(IntegrityError, match="service_price_positive_or_empty"):
        catalogue_load(entries=broken)
    assert not Service.objects.exists()


def test_the_demo_catalogue_has_priced_and_quoted_services():
    assert catalogue_load(entries=DEMO_CATALOGUE) == (len(DEMO_CATALOGUE), 0)
    offered = list(service_list_offered())
    assert len(offered) == len(DEMO_CATALOGUE) >= 5
    assert any(service.is_priced for service in offered)
    assert any(not service.is_priced for service in offered)


def test_only_active_services_are_offered():
    catalogue_load(entries=ENTRIES)
    Service.objects.filter(slug="app").update(active=False)
    assert [service.slug for service in service_list_offered()] == ["hosting"]


def test_the_demo_catalogue_speaks_both_languages_in_every_field():
    catalogue_load(entries=DEMO_CATALOGUE)
    for service in Service.objects.all():
        for field in ("name", "summary", "description", "price_note"):
            english = getattr(service, f"{field}_en")
            kiswahili = getattr(service, f"{field}_sw")
            assert bool(english) == bool(kiswahili), (service.slug, field)
            assert english != kiswahili or not english, (service.slug, field)
    website = Service.objects.get(slug="business-website")
    assert (website.name_sw, website.price_note_sw) == ("Tovuti ya biashara", "malipo ya mara moja")


def test_a_plain_string_is_the_english_whatever_language_is_active():
    with translation.override("sw"):
        catalogue_load(entries=ENTRIES)
    hosting = Service.objects.get(slug="hosting")
    assert (hosting.name_en, hosting.name_sw) == ("Hosting", None)
    with translation.override("sw"):
        assert hosting.name == "Hosting"  # the English, until staff write the Kiswahili


def test_a_kiswahili_word_edited_by_staff_stays_until_the_catalogue_says_otherwise():
    catalogue_load(entries=DEMO_CATALOGUE)
    Service.objects.filter(slug="web-hosting").update(summary_sw="Imehaririwa na ofisi.")
    catalogue_load(entries=[entry for entry in DEMO_CATALOGUE if entry["slug"] != "web-hosting"])
    assert Service.objects.get(slug="web-hosting").summary_sw == "Imehaririwa na ofisi."
