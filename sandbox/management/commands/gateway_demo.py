"""Show the Pesapal client paying an order on the local simulator, over real HTTP.

Without --base-url it serves this project on a free loopback port for the length of the demo;
with --base-url it talks to a site already running with GATEWAY_SIMULATOR on (`make run`).
A command of the sandbox app, so it exists only with the simulators on:
`DEBUG=true GATEWAY_SIMULATOR=true manage.py gateway_demo`.
"""

import threading
import uuid
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from wsgiref.simple_server import WSGIRequestHandler

import requests
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.utils import override_settings

from sandbox.testing import simulator_settings
from wetech.payments.gateways.base import GatewayError
from wetech.payments.gateways.pesapal import BillingAddress, OrderRequest, get_pesapal_client

PAGE_TIMEOUT = (3.05, 10.0)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # the demo prints its own narrative
        pass


@contextmanager
def _local_site():
    """This project on 127.0.0.1:<free port>, simulator on, until the block ends."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler)
    base_url = f"http://127.0.0.1:{server.server_port}"
    with override_settings(
        **simulator_settings(base_url),
        SECURE_SSL_REDIRECT=False,
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "127.0.0.1"],
    ):
        server.set_app(WSGIHandler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield base_url
        finally:
            server.shutdown()
            server.server_close()


class Command(BaseCommand):
    help = "Pay one order through the Pesapal simulator with the real client, step by step."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            help="a running site with GATEWAY_SIMULATOR on (default: serve one for the demo)",
        )
        parser.add_argument(
            "--outcome",
            choices=["pay", "fail", "cancel"],
            default="pay",
            help="the button the simulated customer presses (default: pay)",
        )

    def handle(self, *args, base_url=None, outcome="pay", **options):
        with ExitStack() as stack:
            if base_url:
                base_url = base_url.rstrip("/")
                stack.enter_context(override_settings(**simulator_settings(base_url)))
            else:
                base_url = stack.enter_context(_local_site())
            try:
                self._run(base_url, outcome)
            except (GatewayError, requests.RequestException) as exc:
                raise CommandError(f"demo failed: {exc}") from exc

    def _say(self, step, text):
        self.stdout.write(f"{step}. {text}")

    def _run(self, base_url, outcome):
        client = get_pesapal_client()
        self._say(1, f"Pesapal simulator at {client.base_url}")
        client.request_token()
        self._say(2, "RequestToken: token received and cached until its expiryDate")
        ipn = client.ensure_ipn(f"{base_url}/payments/pesapal/ipn/")
        self._say(3, f"IPN URL registered as {ipn.ipn_id} ({ipn.notification_type or 'GET'})")
        reference = f"DEMO-{uuid.uuid4().hex[:12].upper()}"
        session = client.submit_order(
            OrderRequest(
                merchant_reference=reference,
                amount=Decimal("413000.00"),
                currency="TZS",
                description="WeTech demo: website starter package",
                callback_url=f"{base_url}/payments/pesapal/callback/",
                notification_id=ipn.ipn_id,
                billing=BillingAddress(
                    email="demo@wetech.co.tz", phone="", first_name="Demo", last_name="Customer"
                ),
            )
        )
        self._say(4, f"SubmitOrderRequest: {reference} -> tracking id {session.order_tracking_id}")
        self._say(5, f"Customer is sent to {session.redirect_url}")
        status = client.get_transaction_status(session.order_tracking_id)
        self._say(6, f"GetTransactionStatus before paying: {status.status}")
        landing = self._press(session.redirect_url, outcome)
        self._say(7, f"Customer presses {outcome!r}; browser returns to {landing}")
        status = client.get_transaction_status(session.order_tracking_id)
        self._say(
            8,
            f"GetTransactionStatus after: {status.status}, {status.currency} {status.amount}"
            + (f", confirmation {status.confirmation_code}" if status.confirmation_code else ""),
        )

    def _press(self, page_url, action):
        """What a person does on the hosted page: open it, then press a button."""
        with requests.Session() as browser:
            browser.get(page_url, timeout=PAGE_TIMEOUT).raise_for_status()
            answer = browser.post(
                page_url,
                data={"action": action},
                allow_redirects=False,
                timeout=PAGE_TIMEOUT,
            )
        if answer.status_code != 303:
            raise CommandError(f"the hosted page answered HTTP {answer.status_code}")
        return answer.headers["Location"]
