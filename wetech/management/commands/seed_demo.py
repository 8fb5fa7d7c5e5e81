"""Load WeTech's demo service catalogue (idempotent: services are matched by slug)."""

from django.core.management.base import BaseCommand

from wetech.sales.catalogue import DEMO_CATALOGUE, catalogue_load


class Command(BaseCommand):
    help = "Load the demo service catalogue (idempotent)."

    def handle(self, *args, **options):
        created, updated = catalogue_load(entries=DEMO_CATALOGUE)
        self.stdout.write(f"Demo catalogue: {created} services created, {updated} updated.")
