"""Paying an invoice (start a Pesapal order or an AzamPay push) and the gateways' callbacks.

The pay views are pages behind CSRF and rate limits (per client IP and per invoice). The
callbacks are hostile input from the internet: CSRF-exempt, no session, rate-limited only
generously so a gateway's retries are never dropped; they record the message first, settle it
through the one settlement service and answer fast (200 for duplicates and unknown orders,
400 for what cannot be read).
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from wetech.callback_auth import azampay_address_allowed, azampay_secret_accepted, plain_ip
from wetech.client_ip import client_ip, client_ip_ratelimit_key
from wetech.forms import AzamPayForm
from wetech.models import GatewayNotification
from wetech.models.payments import Gateway
from wetech.payments.gateways.base import GatewayError, GatewayMisconfigured, GatewayRejected
from wetech.payments.inbox import (
    MalformedNotification,
    azampay_callback_process,
    azampay_callback_refuse,
    notification_record,
    pesapal_notification_process,
)
from wetech.payments.start import (
    PaymentInProgress,
    PaymentNotAllowed,
    PushLimited,
    payment_start_azampay,
    payment_start_pesapal,
)
from wetech.ratelimit import ratelimit
from wetech.views.errors import error_payload, rate_limited, wants_json
from wetech.views.invoices import _public_invoice, invoice_page

logger = logging.getLogger("wetech.payments")

Kind = GatewayNotification.Kind
Result = GatewayNotification.Result


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
        }
    }
    if form is not None:
        context["azampay_form"] = form
    response = invoice_page(request, invoice, status=status, **context)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _gateway_problem(request, invoice, exc: GatewayError, *, form=None):
    name = "Pesapal" if exc.gateway == Gateway.PESAPAL else "AzamPay"
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
            message=f"{name} did not accept the payment request.",
            suggestions=[
                "Check the details and try again.",
                "Or choose the other way to pay below.",
            ],
            form=form,
        )
    return _pay_problem(
        request,
        invoice,
        status=503,
        code="gateway_unavailable",
        message=f"We cannot reach {name} right now, so no payment was started.",
        suggestions=[
            "Please try again in a few minutes.",
            "Or choose the other way to pay below.",
            "Nothing was charged.",
        ],
        form=form,
    )


def _not_payable(request, invoice, exc):
    if isinstance(exc, PaymentInProgress):
        message = "A payment for this invoice was just started."
        suggestions = ["Reload the page to see where it stands before trying again."]
    else:
        message = "This invoice cannot take a payment now."
        suggestions = ["Reload the page to see its current status.", "Contact us if unsure."]
    return _pay_problem(
        request,
        invoice,
        status=409,
        code="invoice_not_payable",
        message=message,
        suggestions=suggestions,
    )


def _push_limited(request, invoice, exc: PushLimited, *, form):
    """Over the AzamPay prompt limit: nothing was written or sent; say when to try again."""
    logger.warning(
        "azampay push refused: limit per %s reached",
        exc.limit,
        extra={"invoice": invoice.number, "limit": exc.limit},
    )
    minutes = max(1, -(-exc.retry_after // 60))
    wait = "a minute" if minutes == 1 else f"{minutes} minutes"
    if exc.limit == "invoice":
        message = "Several payment prompts were sent for this invoice in the last few minutes."
    else:
        message = "Several payment prompts were sent to this phone number recently."
    return _pay_problem(
        request,
        invoice,
        status=429,
        code="rate_limited",
        message=message + " We have not sent another one.",
        suggestions=[
            "Check your phone: a prompt may still be waiting for your PIN.",
            f"Try again in {wait}, or choose the other way to pay below.",
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


@require_POST
@_rate_limited_pay
def pay_pesapal(request, token):
    if getattr(request, "limited", False):
        return rate_limited(request)
    invoice = _public_invoice(token)
    try:
        started = payment_start_pesapal(invoice=invoice)
    except (PaymentNotAllowed, PaymentInProgress) as exc:
        return _not_payable(request, invoice, exc)
    except GatewayError as exc:
        return _gateway_problem(request, invoice, exc)
    return _see_other(started.attempt.redirect_url)


@require_POST
@_rate_limited_pay
def pay_azampay(request, token):
    if getattr(request, "limited", False):
        return rate_limited(request)
    invoice = _public_invoice(token)
    form = AzamPayForm(request.POST)
    if not form.is_valid():
        return _pay_problem(
            request,
            invoice,
            status=400,
            code="validation_error",
            message="Please check your mobile money details.",
            suggestions=["Correct the fields marked below and send the request again."],
            form=form,
        )
    try:
        started = payment_start_azampay(
            invoice=invoice,
            phone=form.cleaned_data["phone"],
            provider=form.cleaned_data["provider"],
        )
    except (PaymentNotAllowed, PaymentInProgress) as exc:
        return _not_payable(request, invoice, exc)
    except PushLimited as exc:
        return _push_limited(request, invoice, exc, form=form)
    except GatewayError as exc:
        return _gateway_problem(request, invoice, exc, form=form)
    if started.uncertain:
        messages.warning(
            request,
            "We could not confirm that the request reached your phone. If a prompt arrives, "
            "approve it; otherwise wait a few minutes before trying again.",
        )
    return _see_other(invoice.get_absolute_url())


def _callback_limited(view):
    return ratelimit(
        key=client_ip_ratelimit_key, rate=_callback_rate, group="payment-callbacks", block=False
    )(view)


@csrf_exempt
@never_cache
@require_GET
@_callback_limited
def pesapal_callback(request):
    """Pesapal sends the customer's browser here after its hosted page."""
    if getattr(request, "limited", False):
        return rate_limited(request)
    try:
        notification = notification_record(
            gateway=Gateway.PESAPAL, kind=Kind.BROWSER_RETURN, request=request
        )
        outcome = pesapal_notification_process(notification=notification)
    except MalformedNotification:
        return render(
            request,
            "payments/return_problem.html",
            {"message": "This link from Pesapal is incomplete, so we cannot look it up."},
            status=400,
        )
    if outcome.attempt is None:
        return render(
            request,
            "payments/return_problem.html",
            {"message": "We could not find the payment this link is about."},
            status=404,
        )
    # Still pending is normal (mobile money settles ~20 s later): the page polls.
    return _see_other(outcome.attempt.invoice.get_absolute_url())


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
@_callback_limited
def pesapal_ipn(request):
    if getattr(request, "limited", False):
        return rate_limited(request)
    try:
        notification = notification_record(gateway=Gateway.PESAPAL, kind=Kind.IPN, request=request)
        outcome = pesapal_notification_process(notification=notification)
    except MalformedNotification as exc:
        return JsonResponse(
            error_payload(
                request,
                code="bad_request",
                message="The notification has no readable OrderTrackingId.",
                detail=str(exc),
            ),
            status=400,
        )
    fields = outcome.pesapal
    # Pesapal's acknowledgement (gateways.md A7): HTTP 200, camelCase keys, the type echoed;
    # "status": 500 asks Pesapal to send it again.
    return JsonResponse(
        {
            "orderNotificationType": fields.notification_type or "IPNCHANGE",
            "orderTrackingId": fields.tracking_id,
            "orderMerchantReference": fields.merchant_reference,
            "status": 200 if outcome.processed else 500,
        }
    )


@csrf_exempt
@never_cache
@require_POST
@_callback_limited
def azampay_callback(request, secret):
    if not azampay_secret_accepted(secret):
        raise Http404("no such callback")
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
            azampay_callback_refuse(
                request=request, reason="client address not in AZAMPAY_CALLBACK_ALLOWED_NETWORKS"
            )
        raise Http404("no such callback")
    if getattr(request, "limited", False):
        return rate_limited(request)
    try:
        notification = notification_record(
            gateway=Gateway.AZAMPAY, kind=Kind.CALLBACK, request=request
        )
        outcome = azampay_callback_process(notification=notification)
    except MalformedNotification as exc:
        return JsonResponse(
            error_payload(
                request,
                code="bad_request",
                message="The callback could not be read.",
                detail=str(exc),
            ),
            status=400,
        )
    if not outcome.processed:
        # Not applied yet (status query unavailable): let AzamPay retry; the inbox keeps it.
        return JsonResponse(
            {"success": False, "message": "Temporarily unable to process"}, status=503
        )
    return JsonResponse({"success": True, "message": "Received", "result": outcome.result})
