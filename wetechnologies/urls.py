from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from wetech.urls import gateway_urlpatterns
from wetech.views import dashboard, health

admin.site.site_header = "WeTech back office"
admin.site.site_title = "WeTech admin"

urlpatterns = [
    # Before the admin's own routes; admin_view() makes it staff-only like every admin page.
    path("admin/dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin_dashboard"),
    path("admin/", admin.site.urls),
    # HealthProbeMiddleware answers these first; the routes are here for reverse() and clarity.
    path("health/", health.report, name="health"),
    path("health/ready/", health.ready, name="health-ready"),
    path("health/live/", health.live, name="health-live"),
]
if settings.GATEWAY_SIMULATOR:
    # The gateway simulators (the sandbox app, installed only then). A process that switches them
    # on later (tests under live_server, gateway_demo) routes them through sandbox/site_urls.py.
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
urlpatterns += [
    # The header's language switcher posts here (Django's set_language: it sets the cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    # What the gateways call: the URLs registered with them, never prefixed.
    path("", include(gateway_urlpatterns)),
    # The customer's pages: English at these paths, Kiswahili under /sw/.
    *i18n_patterns(path("", include("wetech.urls")), prefix_default_language=False),
]

handler400 = "wetech.views.errors.bad_request"
handler403 = "wetech.views.errors.permission_denied"
handler404 = "wetech.views.errors.page_not_found"
handler500 = "wetech.views.errors.server_error"
