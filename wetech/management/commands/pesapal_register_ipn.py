"""Register (or find) this site's Pesapal IPN URL and print its id."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wetech.payments.gateways.base import GatewayError
from wetech.payments.gateways.pesapal import pesapal_ipn_url, pesapal_register_ipn


class Command(BaseCommand):
    help = (
        "Register {SITE_URL}/payments/pesapal/ipn/ with Pesapal, reusing an existing "
        "registration of that URL, and print its ipn_id (set it as PESAPAL_IPN_ID)."
    )

    def handle(self, *args, **options):
        try:
            registration = pesapal_register_ipn()
        except GatewayError as exc:
            raise CommandError(f"could not register {pesapal_ipn_url()}: {exc}") from exc
        self.stdout.write(registration.ipn_id)
        if settings.PESAPAL_IPN_ID and registration.ipn_id != settings.PESAPAL_IPN_ID:
            self.stderr.write(
                f"warning: PESAPAL_IPN_ID is set to a different id ({settings.PESAPAL_IPN_ID}); "
                "orders use the setting"
            )
