"""Values every page template can use."""

from django.conf import settings

from wetech.company import company_get


def site(request):
    return {
        "site_name": "WeTech",
        "site_url": settings.SITE_URL,
        "company": company_get(),
        "request_id": getattr(request, "request_id", ""),
        "gateway_simulator": settings.GATEWAY_SIMULATOR,
    }
