"""Paying an invoice through a gateway, and the gateways' callbacks.

The pay views are pages behind CSRF and rate limits (per client IP and per invoice), one view
for every gateway: a push gateway's form asks for the phone and provider first, a hosted-page
gateway sends the customer to its page. The callbacks are hostile input from the internet:
CSRF-exempt, no session, rate-limited only generously so a gateway's retries are never dropped;
they record the message first, settle it through the one notification pipeline and answer fast
with the gateway's own acknowledgement (200 for duplicates and unknown orders, 400 for what
cannot be read). Each URL names its gateway; nothing here branches on which one it is.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wetech.callback_auth import azampay_address_allowed, azampay_secret_accepted, plain_ip
from wetech.client_ip import client_ip, client_ip_ratelimit_key
from wetech.forms import AzamPayForm
from wetech.models import GatewayNotification
from wetech.payments.gateways.base import (
    GatewayError,
    GatewayMisconfigured,
    GatewayRejected,
    MalformedNotification,
    PaymentGateway,
)
from wetech.payments.gateways.registry import gateway_named
from wetech.payments.inbox import (
    InboxOutcome,
    notification_process,
    notification_record,
    notification_refuse,
)
from wetech.payments.start import (
    PaymentInProgress,
    PaymentNotAllowed,
    PushLimited,
    payment_start,
)
from wetech.ratelimit import ratelimit
from wetech.views.errors import error_payload, rate_limited, wants_json
from wetech.views.invoices import _public_invoice, invoice_page

logger = logging.getLogger("wetech.payments")

Kind = GatewayNotification.Kind


def _pay_rate(group, request):
    return settings.PAY_RATE_LIMIT


def _callback_rate(group, request):
    return settings.CALLBACK_RATE_LIMIT


def _invoice_token_key(group, request) -> str:
    return request.resolver_match.kwargs.get("token", "") if request.resolver_match else ""


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _pay_problem(
    request, invoice, *, status, code, message, suggestions, form=None, retry_after=None
):
    """The invoice page again with what went wrong, or the contract's JSON error."""
    if wants_json(request):
        fields = None
        if form is not None and form.errors:
            fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        response = JsonResponse(
            error_payload(
                request,
                code=code,
                message=message,
                suggestions=suggestions,
                fields=fields,
                retry_after=retry_after,
            ),
            status=status,
        )
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    context = {
        "pay_error": {
            "message": message,
            "suggestions": suggestions,
            "request_id": getattr(request, "request_id", None),
        },
        # The page this is (for the language switcher): the invoice, not the pay URL.
        "page_path": invoice.get_absolute_url(),
    }
    if form is not None:
        context["azampay_form"] = form
    response = invoice_page(request, invoice, status=status, **context)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _gateway_problem(request, invoice, gateway: PaymentGateway, exc: GatewayError, *, form=None):
    name = gateway.label
    # Misconfiguration needs a person; an outage or a refusal is the gateway's weather.
    level = logging.ERROR if isinstance(exc, GatewayMisconfigured) else logging.WARNING
    logger.log(
        level,
        "payment start with %s failed: %s",
        exc.gateway or "gateway",
        type(exc).__name__,
        extra={"gateway": exc.gateway, "invoice": invoice.number},
    )
    if isinstance(exc, GatewayRejected):
        return _pay_problem(
            request,
            invoice,
            status=502,
            code="payment_failed",
            message=_("%(gateway)s did not accept the payment request.") % {"gateway": name},
            suggestions=[
                _("Check the details and try again."),
                _("Or choose the other way to pay below."),
            ],
            form=form,
        )
    return _pay_problem(
        request,
        invoice,
        status=503,
        code="gateway_unavailable",
        message=_("We cannot reach %(gateway)s right now, so no payment was started.")
        % {"gateway": name},
        suggestions=[
            _("Please try again in a few minutes."),
            _("Or choose the other way to pay below."),
            _("Nothing was charged."),
        ],
        form=form,
    )


def _not_payable(request, invoice, exc):
    if isinstance(exc, PaymentInProgress):
        message = _("A payment for this invoice was just started.")
        suggestions = [_("Reload the page to see where it stands before trying again.")]
    else:
        message = _("This invoice cannot take a payment now.")
        suggestions = [_("Reload the page to see its current status."), _("Contact us if unsure.")]
    return _pay_problem(
        request,
        invoice,
        status=409,
        code="invoice_not_payable",
        message=message,
        suggestions=suggestions,
    )


def _push_limited(request, invoice, exc: PushLimited, *, form):
    """Over a push gateway's prompt limit: nothing was written or sent; say when to try again."""
    logger.warning(
        "%s push refused: limit per %s reached",
        exc.gateway,
        exc.limit,
        extra={"invoice": invoice.number, "limit": exc.limit},
    )
    minutes = max(1, -(-exc.retry_after // 60))
    if exc.limit == "invoice":
        message = _(
            "Several payment prompts were sent for this invoice in the last few minutes. "
            "We have not sent another one."
        )
    else:
        message = _(
            "Several payment prompts were sent to this phone number recently. "
            "We have not sent another one."
        )
    return _pay_problem(
        request,
        invoice,
        status=429,
        code="rate_limited",
        message=message,
        suggestions=[
            _("Check your phone: a prompt may still be waiting for your PIN."),
            ngettext(
                "Try again in a minute, or choose the other way to pay below.",
                "Try again in %(minutes)d minutes, or choose the other way to pay below.",
                minutes,
            )
            % {"minutes": minutes},
        ],
        form=form,
        retry_after=exc.retry_after,
    )


_pay_limits = (
    ratelimit(key=client_ip_ratelimit_key, rate=_pay_rate, group="pay-ip", block=False),
    ratelimit(key=_invoice_token_key, rate=_pay_rate, group="pay-invoice", block=False),
)


def _rate_limited_pay(view):
    for limit in _pay_limits:
        view = limit(view)
    return view


def _pay(request, token, gateway: PaymentGateway):
    if getattr(request, "limited", False):
        return rate_limited(request)
    invoice = _public_invoice(token)
    form = None
    account = {}
    if gateway.push_to_phone:
        form = AzamPayForm(request.POST)
        if not form.is_valid():
            return _pay_problem(
                request,
                invoice,
                status=400,
                code="validation_error",
                message=_("Please check your mobile money details."),
                suggestions=[_("Correct the fields marked below and send the request again.")],
                form=form,
            )
        account = {"phone": form.cleaned_data["phone"], "provider": form.cleaned_data["provider"]}
    try:
        started = payment_start(invoice=invoice, gateway=gateway.name, **account)
    except (PaymentNotAllowed, PaymentInProgress) as exc:
        return _not_payable(request, invoice, exc)
    except PushLimited as exc:
        return _push_limited(request, invoice, exc, form=form)
    except GatewayError as exc:
        return _gateway_problem(request, invoice, gateway, exc, form=form)
    if started.uncertain:
        messages.warning(
            request,
            _(
                "We could not confirm that the request reached your phone. If a prompt arrives, "
                "approve it; otherwise wait a few minutes before trying again."
            ),
        )
    # A hosted page takes the customer there; a push leaves them on the invoice, which waits.
    return _see_other(started.attempt.redirect_url or invoice.get_absolute_url())


def _pay_view(gateway_name: str):
    @require_POST
    @_rate_limited_pay
    def pay(request, token):
        return _pay(request, token, gateway_named(gateway_name))

    pay.__name__ = pay.__qualname__ = f"pay_{gateway_name}"
    return pay


pay_pesapal = _pay_view("pesapal")
pay_azampay = _pay_view("azampay")


def _callback_limited(view):
    return ratelimit(
        key=client_ip_ratelimit_key, rate=_callback_rate, group="payment-callbacks", block=False
    )(view)


def _received(request, gateway: PaymentGateway, kind: str) -> InboxOutcome:
    """Record the message, then settle it. Raises MalformedNotification."""
    notification = notification_record(gateway=gateway.name, kind=kind, request=request)
    return notification_process(notification=notification)


def _unreadable(request, exc: MalformedNotification) -> JsonResponse:
    return JsonResponse(
        error_payload(
            request,
            code="bad_request",
            message="The notification could not be read.",
            detail=str(exc),
        ),
        status=400,
    )


def _acknowledged(gateway: PaymentGateway, outcome: InboxOutcome) -> JsonResponse:
    status, body = gateway.acknowledge(
        outcome.parsed, processed=outcome.processed, result=outcome.result
    )
    return JsonResponse(body, status=status)


def _visitor_language(request):
    """The language of a page whose URL has no prefix: the visitor's language cookie, else their
    browser's Accept-Language (Django ignores both on unprefixed paths)."""
    return translation.override(translation.get_language_from_request(request))


@csrf_exempt
@never_cache
@require_GET
@_callback_limited
def pesapal_callback(request):
    """Pesapal sends the customer's browser here after its hosted page."""
    if getattr(request, "limited", False):
        return rate_limited(request)
    gateway = gateway_named("pesapal")
    try:
        outcome = _received(request, gateway, Kind.BROWSER_RETURN)
    except MalformedNotification:
        with _visitor_language(request):
            message = _("This link from %(gateway)s is incomplete, so we cannot look it up.")
            return render(
                request,
                "payments/return_problem.html",
                {"message": message % {"gateway": gateway.label}},
                status=400,
            )
    if outcome.attempt is None:
        with _visitor_language(request):
            return render(
                request,
                "payments/return_problem.html",
                {"message": _("We could not find the payment this link is about.")},
                status=404,
            )
    # Still pending is normal (mobile money settles ~20 s later): the page polls. The customer
    # returns to the invoice in their own language (the URL registered with Pesapal has none).
    invoice = outcome.attempt.invoice
    with translation.override(invoice.language):
        return _see_other(invoice.get_absolute_url())


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
@_callback_limited
def pesapal_ipn(request):
    if getattr(request, "limited", False):
        return rate_limited(request)
    gateway = gateway_named("pesapal")
    try:
        outcome = _received(request, gateway, Kind.IPN)
    except MalformedNotification as exc:
        return _unreadable(request, exc)
    return _acknowledged(gateway, outcome)


@csrf_exempt
@never_cache
@require_POST
@_callback_limited
def azampay_callback(request, secret):
    # The credential (the secret path, and where the request comes from) is checked on the
    # raw request before anything of it is redacted or stored.
    if not azampay_secret_accepted(secret):
        raise Http404("no such callback")
    gateway = gateway_named("azampay")
    ip = client_ip(request)
    if not azampay_address_allowed(ip):
        # The right secret from the wrong place: answered exactly like a wrong secret, but a
        # person should know (a leaked secret, or AzamPay sending from a new network).
        if not getattr(request, "limited", False):
            logger.warning(
                "azampay callback from %s refused: not in AZAMPAY_CALLBACK_ALLOWED_NETWORKS",
                plain_ip(ip) or "(no address)",
                extra={"client_ip": plain_ip(ip)},
            )
            notification_refuse(
                gateway=gateway.name,
                kind=Kind.CALLBACK,
                request=request,
                reason="client address not in AZAMPAY_CALLBACK_ALLOWED_NETWORKS",
            )
        raise Http404("no such callback")
    if getattr(request, "limited", False):
        return rate_limited(request)
    try:
        outcome = _received(request, gateway, Kind.CALLBACK)
    except MalformedNotification as exc:
        return _unreadable(request, exc)
    return _acknowledged(gateway, outcome)
