"""Values every page template can use."""

from django.conf import settings


def site(request):
    return {
        "site_name": "WeTech",
        "site_url": settings.SITE_URL,
        "request_id": getattr(request, "request_id", ""),
        "gateway_simulator": settings.GATEWAY_SIMULATOR,
    }
