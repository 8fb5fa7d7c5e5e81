"""Simulated Pesapal API 3.0: the real paths, shapes and quirks (shared/docs/gateways.md Part A).

Quirks reproduced on purpose: `status` is a string, logical errors ride on HTTP 200, success
bodies carry an `error` object of nulls, the error kind is `error_type`, pending orders answer
`status_code 0` + `payment_details_not_found` with `status "500"`, and the description says
"Completed" (not "COMPLETED"). Also, as integrators report, RequestToken may refuse credentials
with HTTP 500 (here: for the consumer key `PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500` of
`sandbox/credentials.py`); and a RefundRequest's "200" only queues the refund (gateways.md A9):
the payment stays COMPLETED until the merchant approves it (here: `refund_approve`, behind a
sandbox control URL), and only then turns REVERSED, with an IPN.
"""

import hmac
import re
import secrets
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import credentials, state
from sandbox.delivery import in_background, send
from wetech import json_input

TOKEN_SECONDS = 300  # the documented maximum; live may really use it
_REFERENCE = re.compile(r"[A-Za-z0-9-]{1,50}")
NULL_ERROR = {"error_type": None, "code": None, "message": None, "call_back_url": None}

# What each final state looks like in GetTransactionStatus.
_OUTCOMES = {
    "completed": {"status_code": 1, "payment_status_description": "Completed"},
    "failed": {"status_code": 2, "payment_status_description": "Failed"},
    "reversed": {"status_code": 3, "payment_status_description": "Reversed"},
    "cancelled": {"status_code": 0, "payment_status_description": "INVALID"},
}


def _api_error(code: str, explanation: str, *, http_status: int = 200, **fields):
    # Pesapal reports logical errors with HTTP 200 and the problem only in the body.
    return JsonResponse(
        {
            **fields,
            "error": {"error_type": "api_error", "code": code, "message": explanation},
            "status": "500",
        },
        status=http_status,
    )


def _auth_error():
    return JsonResponse(
        {
            "error": {
                "error_type": "authentication_error",
                "code": "invalid_api_credentials_provided",
                "message": "Invalid Access Token",
            },
            "status": "401",
        },
        status=401,
    )


def _body(request) -> dict | None:
    try:
        payload = json_input.loads(request.body or b"null", parse_float=Decimal)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _authorised(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token) and bool(state.load("pesapal-token", token))


def _with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@csrf_exempt
@require_POST
def request_token(request):
    body = _body(request) or {}
    key_ok = hmac.compare_digest(
        str(body.get("consumer_key", "")), credentials.PESAPAL_CONSUMER_KEY
    )
    secret_ok = hmac.compare_digest(
        str(body.get("consumer_secret", "")), credentials.PESAPAL_CONSUMER_SECRET
    )
    if not (key_ok and secret_ok):
        answered_with_500 = hmac.compare_digest(
            str(body.get("consumer_key", "")), credentials.PESAPAL_CONSUMER_KEY_ANSWERED_WITH_500
        )
        return _api_error(
            "invalid_consumer_key_or_secret_provided",
            "",
            http_status=500 if answered_with_500 else 200,
            token=None,
            expiryDate="0001-01-01T00:00:00",
            message="Invalid consumer key or secret provided",
        )
    token = f"sim.{secrets.token_urlsafe(32)}"
    state.save("pesapal-token", token, value=True, timeout=TOKEN_SECONDS)
    return JsonResponse(
        {
            "token": token,
            "expiryDate": state.iso(state.later(TOKEN_SECONDS)),
            "error": None,
            "status": "200",
            "message": "Request processed successfully",
        }
    )


@csrf_exempt
@require_POST
def register_ipn(request):
    if not _authorised(request):
        return _auth_error()
    body = _body(request) or {}
    url = str(body.get("url") or "")
    kind = str(body.get("ipn_notification_type") or "").upper()
    if not url.startswith(("http://", "https://")) or kind not in ("GET", "POST"):
        return _api_error("invalid_ipn_details", "url and ipn_notification_type are required")
    registrations = state.load("pesapal-ipns") or []
    record = {
        "id": 4000 + len(registrations) + 1,
        "url": url,
        "created_date": state.iso(state.now()),
        "ipn_id": str(uuid.uuid4()),
        "notification_type": 0 if kind == "GET" else 1,
        "ipn_notification_type_description": kind,
        "ipn_status": 1,
        "ipn_status_decription": "Active",  # sic: the real response misspells it
    }
    state.append("pesapal-ipns", item=record)
    return JsonResponse({**record, "error": None, "status": "200"})


@require_GET
def ipn_list(request):
    if not _authorised(request):
        return _auth_error()
    return JsonResponse(
        [
            {
                "url": item["url"],
                "created_date": item["created_date"],
                "ipn_id": item["ipn_id"],
                "error": None,
                "status": "200",
            }
            for item in state.load("pesapal-ipns") or []
        ],
        safe=False,
    )


def _order_problem(body: dict) -> str:
    reference = str(body.get("id") or "")
    if not _REFERENCE.fullmatch(reference):
        return "id must be 1-50 letters, digits or hyphens"
    if state.load("pesapal-reference", reference):
        return "id must be unique for every order request"
    if not re.fullmatch(r"[A-Z]{3}", str(body.get("currency") or "")):
        return "currency must be an ISO 4217 code"
    try:
        amount = Decimal(str(body.get("amount")))
    except InvalidOperation:
        return "amount must be a number"
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        return "amount must be positive with at most 2 decimals"
    description = str(body.get("description") or "")
    if not description or len(description) > 100:
        return "description is required (max 100 characters)"
    if not str(body.get("callback_url") or "").startswith(("http://", "https://")):
        return "callback_url is required"
    ipn_ids = {item["ipn_id"] for item in state.load("pesapal-ipns") or []}
    if body.get("notification_id") not in ipn_ids:
        return "notification_id is not a registered IPN"
    billing = body.get("billing_address")
    if not isinstance(billing, dict) or not (
        billing.get("email_address") or billing.get("phone_number")
    ):
        return "billing_address needs email_address or phone_number"
    return ""


@csrf_exempt
@require_POST
def submit_order(request):
    if not _authorised(request):
        return _auth_error()
    body = _body(request) or {}
    problem = _order_problem(body)
    if problem:
        return _api_error(
            "invalid_order_details",
            problem,
            order_tracking_id=None,
            merchant_reference=body.get("id"),
            redirect_url=None,
        )
    tracking_id = str(uuid.uuid4())
    order = {
        "tracking_id": tracking_id,
        "reference": body["id"],
        "amount": str(Decimal(str(body["amount"]))),
        "currency": body["currency"],
        "description": body["description"],
        "callback_url": body["callback_url"],
        "cancellation_url": body.get("cancellation_url") or "",
        "notification_id": body["notification_id"],
        "email": body["billing_address"].get("email_address") or "",
        "created_date": state.iso(state.now(), digits=2),
        "state": "pending",
    }
    state.save("pesapal-order", tracking_id, value=order)
    state.save("pesapal-reference", body["id"], value=tracking_id)
    return JsonResponse(
        {
            "order_tracking_id": tracking_id,
            "merchant_reference": body["id"],
            "redirect_url": request.build_absolute_uri(
                reverse("sandbox:pesapal-pay", args=[tracking_id])
            ),
            "error": None,
            "status": "200",
        }
    )


def _status_body(order: dict) -> dict:
    call_back_url = _with_query(
        order["callback_url"],
        {"OrderTrackingId": order["tracking_id"], "OrderMerchantReference": order["reference"]},
    )
    body = {
        "payment_method": "",
        # The wire format is a JSON number.
        "amount": float(Decimal(order["amount"])),
        "created_date": order["created_date"],
        "confirmation_code": "",
        "order_tracking_id": order["tracking_id"],
        "payment_status_description": "INVALID",
        "description": None,
        "message": "Request processed successfully",
        "payment_account": "",
        "call_back_url": call_back_url,
        "status_code": 0,
        "merchant_reference": order["reference"],
        "payment_status_code": "",
        "currency": order["currency"],
        "error": {
            "error_type": "api_error",
            "code": "payment_details_not_found",
            "message": "Pending Payment",
            "call_back_url": call_back_url,
        },
        "status": "500",
    }
    if order["state"] == "pending":
        return body
    body.update(_OUTCOMES[order["state"]])
    body.update(
        {
            "payment_method": order.get("payment_method", ""),
            "confirmation_code": order.get("confirmation_code", ""),
            "payment_account": order.get("payment_account", ""),
            "payment_status_code": order.get("payment_status_code", ""),
            "description": order.get("outcome_description"),
            "error": dict(NULL_ERROR),
            "status": "200",
        }
    )
    return body


@require_GET
def transaction_status(request):
    if not _authorised(request):
        return _auth_error()
    order = state.load("pesapal-order", request.GET.get("orderTrackingId", ""))
    if order is None:
        return _api_error("invalid_order_tracking_id", "Order tracking id is invalid")
    return JsonResponse(_status_body(order))


def _fire_ipn(order: dict) -> None:
    registration = next(
        (
            item
            for item in state.load("pesapal-ipns") or []
            if item["ipn_id"] == order["notification_id"]
        ),
        None,
    )
    if registration is None:
        return
    fields = {
        "OrderTrackingId": order["tracking_id"],
        "OrderMerchantReference": order["reference"],
        "OrderNotificationType": "IPNCHANGE",
    }
    url = registration["url"]
    if registration["notification_type"] == 1:
        in_background(lambda: send("pesapal IPN", "POST", url, json=fields), name="pesapal-ipn")
    else:
        in_background(lambda: send("pesapal IPN", "GET", url, params=fields), name="pesapal-ipn")


def _settle(order: dict, action: str) -> dict:
    if action == "pay":
        order.update(
            state="completed",
            payment_method="Visa",
            payment_account="476173**0010",
            confirmation_code=f"SIM{secrets.token_hex(6).upper()}",
            outcome_description="Payment completed successfully",
        )
        state.save("pesapal-confirmation", order["confirmation_code"], value=order["tracking_id"])
    elif action == "fail":
        order.update(
            state="failed",
            payment_method="Visa",
            payment_status_code="insufficient_funds",
            outcome_description="The card was declined",
        )
    else:
        order.update(
            state="failed",
            payment_status_code="request_terminated_by_user",
            outcome_description="The customer cancelled the payment",
        )
    return order


# Like the real hosted page, this is another site: our CSRF cookie (Secure outside DEBUG) has no
# say in it, and anyone holding the link may pay.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def hosted_page(request, tracking_id):
    order = state.load("pesapal-order", str(tracking_id))
    if order is None:
        raise Http404("unknown order")
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("pay", "fail", "cancel"):
            return render(request, "sandbox/hosted_page.html", _page_context(order), status=400)
        if order["state"] == "pending":
            order = state.update(
                "pesapal-order", order["tracking_id"], change=lambda o: _settle(o, action)
            )
            _fire_ipn(order)
        target = (
            order["cancellation_url"]
            if action == "cancel" and order["cancellation_url"]
            else order["callback_url"]
        )
        return HttpResponseRedirect(
            _with_query(
                target,
                {
                    "OrderTrackingId": order["tracking_id"],
                    "OrderMerchantReference": order["reference"],
                    "OrderNotificationType": "CALLBACKURL",
                },
            ),
            status=303,
        )
    return render(request, "sandbox/hosted_page.html", _page_context(order))


def _page_context(order: dict) -> dict:
    return {
        "gateway_name": "Pesapal",
        "amount": Decimal(order["amount"]),
        "currency": order["currency"],
        "reference": order["reference"],
        "description": order["description"],
        "payer": order["email"],
        "payable": order["state"] == "pending",
        "state": order["state"],
        "cancel_label": "Cancel and return to the merchant",
        "return_url": _with_query(
            order["callback_url"],
            {
                "OrderTrackingId": order["tracking_id"],
                "OrderMerchantReference": order["reference"],
                "OrderNotificationType": "CALLBACKURL",
            },
        ),
    }


@csrf_exempt
@require_POST
def refund_request(request):
    if not _authorised(request):
        return _auth_error()
    body = _body(request) or {}
    if not all(body.get(name) for name in ("confirmation_code", "amount", "username", "remarks")):
        return JsonResponse(
            {"status": "500", "message": "confirmation_code, amount, username, remarks required"}
        )
    tracking_id = state.load("pesapal-confirmation", str(body["confirmation_code"]))
    order = state.load("pesapal-order", tracking_id) if tracking_id else None
    if order is None or order["state"] != "completed":
        return JsonResponse({"status": "500", "message": "Only completed payments can be refunded"})
    try:
        amount = Decimal(str(body["amount"]))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0 or amount > Decimal(order["amount"]):
        return JsonResponse({"status": "500", "message": "Refund amount is not valid"})
    if order.get("refund"):
        return JsonResponse({"status": "500", "message": "A refund was already requested"})
    # "200" only queues it: the payment stays COMPLETED until the merchant approves it.
    refund = {
        "amount": str(amount),
        "username": str(body["username"]),
        "remarks": str(body["remarks"]),
        "requested": state.iso(state.now()),
        "state": "pending_approval",
    }
    state.update("pesapal-order", tracking_id, change=lambda o: {**o, "refund": refund})
    return JsonResponse({"status": "200", "message": "Refund request successfully"})


def refund_approve(confirmation_code: str) -> dict | None:
    """The merchant's approval of a queued refund: the payment turns REVERSED and the IPN goes.

    Returns the order, or None when no refund of that payment awaits approval.
    """
    tracking_id = state.load("pesapal-confirmation", confirmation_code)
    order = state.load("pesapal-order", tracking_id) if tracking_id else None
    if order is None or (order.get("refund") or {}).get("state") != "pending_approval":
        return None

    def approve(record: dict) -> dict:
        return {
            **record,
            "state": "reversed",
            "refund": {**record["refund"], "state": "approved"},
        }

    order = state.update("pesapal-order", tracking_id, change=approve)
    _fire_ipn(order)
    return order


# A sandbox control, not a Pesapal path: what the merchant's approval in Pesapal's portal does.
@csrf_exempt
@require_POST
def refund_approval(request, confirmation_code):
    order = refund_approve(confirmation_code)
    if order is None:
        return JsonResponse(
            {"status": "404", "message": "No refund of this payment awaits approval"}, status=404
        )
    return JsonResponse(
        {
            "status": "200",
            "message": "Refund approved",
            "order_tracking_id": order["tracking_id"],
            "payment_status_description": _OUTCOMES["reversed"]["payment_status_description"],
        }
    )


@csrf_exempt
@require_POST
def cancel_order(request):
    if not _authorised(request):
        return _auth_error()
    body = _body(request) or {}
    tracking_id = str(body.get("order_tracking_id") or "")
    order = state.load("pesapal-order", tracking_id) if tracking_id else None
    if order is None or order["state"] != "pending":
        return JsonResponse({"status": "500", "message": "Order cannot be cancelled"})
    state.update("pesapal-order", tracking_id, change=lambda o: {**o, "state": "cancelled"})
    return JsonResponse({"status": "200", "message": "Order cancelled successfully"})
