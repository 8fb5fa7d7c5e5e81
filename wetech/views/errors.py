"""Error pages and the rate-limit answer. They never show a traceback, a path or a secret."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token

RETRY_AFTER_SECONDS = 60
# The database refusing or dropping connections is an outage that passes, not a bug in a page:
# answer 503 with Retry-After so people, clients and load balancers come back instead of giving up.
DATABASE_OUTAGES = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER_SECONDS = 30


def wants_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/json" in accept and "text/html" not in accept


def error_payload(request, *, code, message, suggestions=(), **extra) -> dict:
    """The one JSON error shape of the contract ("Errors for JSON clients")."""
    error = {
        "code": code,
        "message": message,
        "suggestions": list(suggestions),
        "request_id": getattr(request, "request_id", None),
    }
    error.update({key: value for key, value in extra.items() if value is not None})
    return {"error": error}


def _page(request, template, status, *, code, message, suggestions=()):
    if wants_json(request):
        return JsonResponse(
            error_payload(request, code=code, message=message, suggestions=suggestions),
            status=status,
        )
    return render(
        request,
        template,
        {"message": message, "suggestions": suggestions},
        status=status,
    )


def rate_limited(request, exception=None):
    message = "You have sent too many requests in a short time."
    suggestions = ["Wait a minute and try again.", "Or call us: we are happy to help by phone."]
    if wants_json(request):
        response = JsonResponse(
            error_payload(
                request,
                code="rate_limited",
                message=message,
                suggestions=suggestions,
                retry_after=RETRY_AFTER_SECONDS,
            ),
            status=429,
        )
    else:
        response = render(
            request,
            "429.html",
            {"message": message, "suggestions": suggestions, "retry_after": RETRY_AFTER_SECONDS},
            status=429,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username is locked from this address (AXES_LOCKOUT_CALLABLE)."""
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = "Too many failed sign-ins for this username from your address."
    suggestions = [
        f"Wait {retry_after // 60} minutes and try again.",
        "Or ask another administrator to unlock it.",
    ]
    response = render(
        request,
        "429.html",
        {"message": message, "suggestions": suggestions, "retry_after": retry_after},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


@requires_csrf_token
def bad_request(request, exception=None):
    return _page(
        request,
        "400.html",
        400,
        code="bad_request",
        message="We could not understand that request.",
        suggestions=["Go back, reload the page and try again."],
    )


@requires_csrf_token
def permission_denied(request, exception=None):
    return _page(
        request,
        "403.html",
        403,
        code="forbidden",
        message="You are not allowed to do that.",
        suggestions=["If you were filling in a form, reload the page and send it again."],
    )


def csrf_failure(request, reason=""):
    return _page(
        request,
        "403.html",
        403,
        code="csrf_failed",
        message="Your form expired or came from another site, so we did not accept it.",
        suggestions=["Reload the page and send the form again."],
    )


@requires_csrf_token
def page_not_found(request, exception=None):
    return _page(
        request,
        "404.html",
        404,
        code="not_found",
        message="We could not find that page.",
        suggestions=["Check the address, or start again from the home page."],
    )


def service_unavailable(request):
    """The database is out of reach (Django has already logged the error with its traceback)."""
    message = "The site is briefly unavailable while we fix a problem on our side."
    suggestions = [
        "Please try again in a minute.",
        "If you were paying, reload the invoice page to see where it stands before paying again.",
    ]
    if wants_json(request):
        response = JsonResponse(
            error_payload(
                request,
                code="service_unavailable",
                message=message,
                suggestions=suggestions,
                retry_after=DATABASE_RETRY_AFTER_SECONDS,
            ),
            status=503,
        )
    else:
        response = render(
            request, "503.html", {"message": message, "suggestions": suggestions}, status=503
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


@requires_csrf_token
def server_error(request):
    # Django calls this handler while handling the exception, so it is still the current one.
    if isinstance(sys.exc_info()[1], DATABASE_OUTAGES):
        return service_unavailable(request)
    return _page(
        request,
        "500.html",
        500,
        code="server_error",
        message="Something went wrong on our side.",
        suggestions=["Please try again in a minute.", "If it keeps happening, contact us."],
    )
