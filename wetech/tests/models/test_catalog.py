from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from wetech.models import Service
from wetech.tests.lead_helpers import make_service

pytestmark = pytest.mark.django_db


def test_active_lists_only_active_services_in_order():
    make_service(slug="b", name="B", order=2)
    make_service(slug="a", name="A", order=1)
    make_service(slug="off", name="Off", active=False)
    assert [s.slug for s in Service.objects.active()] == ["a", "b"]


def test_priced_means_a_positive_price():
    assert make_service(slug="p").is_priced
    assert not make_service(slug="q", price=None).is_priced


def test_a_non_positive_price_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        make_service(slug="zero", price=Decimal("0"))


def test_each_word_of_a_service_reads_in_the_active_language_falling_back_to_english():
    service = make_service(name="Business website", price_note="one-off")
    Service.objects.filter(pk=service.pk).update(
        name_sw="Tovuti ya biashara", price_note_sw="malipo ya mara moja"
    )
    service.refresh_from_db()
    with translation.override("sw"):
        assert service.name == "Tovuti ya biashara"
        assert service.price_note == "malipo ya mara moja"
        # No Kiswahili summary yet: the English shows rather than nothing.
        assert service.summary == "A fast website."
    with translation.override("en"):
        assert service.name == "Business website"


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_todays_english_catalogue_as_the_english_columns():
    before = [("wetech", "0012_customer_language")]
    after = [("wetech", "0013_service_translations")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps.get_model("wetech", "Service")
        old.objects.create(
            name="Web hosting",
            slug="web-hosting",
            summary="Yearly hosting.",
            description="Backups daily.",
            price=Decimal("450000"),
            price_note="per year",
        )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps.get_model("wetech", "Service")
        row = new.objects.values(
            "name_en", "summary_en", "description_en", "price_note_en", "name_sw", "summary_sw"
        ).get(slug="web-hosting")
        assert row == {
            "name_en": "Web hosting",
            "summary_en": "Yearly hosting.",
            "description_en": "Backups daily.",
            "price_note_en": "per year",
            "name_sw": None,
            "summary_sw": None,
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
