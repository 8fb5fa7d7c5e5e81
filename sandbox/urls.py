"""The simulators' URLs, at the real gateways' paths under /sandbox/.

Included only when GATEWAY_SIMULATOR is on (`wetechnologies/urls.py`, or `sandbox/site_urls.py`
for a process that switches them on later). Every view is also wrapped in `simulator_only`, which
answers 404 unless GATEWAY_SIMULATOR is on at request time: the simulators can never serve
production, whatever includes this URLconf.
"""

from functools import wraps

from django.conf import settings
from django.http import Http404
from django.urls import path

from sandbox import azampay, pesapal

app_name = "sandbox"


def simulator_only(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not settings.GATEWAY_SIMULATOR:
            raise Http404("the gateway simulator is off")
        return view(request, *args, **kwargs)

    return guarded


_routes = [
    # Pesapal API 3.0 (base: {SITE_URL}/sandbox/pesapal)
    ("pesapal/api/Auth/RequestToken", pesapal.request_token, "pesapal-token"),
    ("pesapal/api/URLSetup/RegisterIPN", pesapal.register_ipn, "pesapal-register-ipn"),
    ("pesapal/api/URLSetup/GetIpnList", pesapal.ipn_list, "pesapal-ipn-list"),
    ("pesapal/api/Transactions/SubmitOrderRequest", pesapal.submit_order, "pesapal-submit"),
    (
        "pesapal/api/Transactions/GetTransactionStatus",
        pesapal.transaction_status,
        "pesapal-status",
    ),
    ("pesapal/api/Transactions/RefundRequest", pesapal.refund_request, "pesapal-refund"),
    ("pesapal/api/Transactions/CancelOrder", pesapal.cancel_order, "pesapal-cancel"),
    ("pesapal/pay/<uuid:tracking_id>/", pesapal.hosted_page, "pesapal-pay"),
    # Sandbox controls (no real gateway has these paths): what a person does in a portal.
    (
        "pesapal/control/refunds/<str:confirmation_code>/approve/",
        pesapal.refund_approval,
        "pesapal-refund-approve",
    ),
    # AzamPay (auth base: {SITE_URL}/sandbox/azampay/auth, checkout base: .../azampay/checkout)
    ("azampay/auth/AppRegistration/GenerateToken", azampay.generate_token, "azampay-token"),
    ("azampay/checkout/azampay/mno/checkout", azampay.mno_checkout, "azampay-mno-checkout"),
    (
        "azampay/checkout/api/v1/partner/gettransactionstatus",
        azampay.transaction_status,
        "azampay-status",
    ),
]

urlpatterns = [path(route, simulator_only(view), name=name) for route, view, name in _routes]
