from decimal import Decimal

import pytest
from django.db import IntegrityError

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
