import pytest
from django.core.management import call_command

from wetech.models import Service

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_realistic(capsys):
    call_command("seed_demo")
    first = list(Service.objects.values_list("slug", "price"))
    Service.objects.filter(slug="business-website").update(active=False)
    call_command("seed_demo")
    assert list(Service.objects.values_list("slug", "price")) == first
    assert Service.objects.count() == len(first) >= 5
    assert Service.objects.get(slug="business-website").active
    assert Service.objects.filter(currency="TZS").count() == len(first)
    assert Service.objects.filter(price__isnull=True).exists()  # something priced on request
    assert "0 services created" in capsys.readouterr().out.splitlines()[-1]
