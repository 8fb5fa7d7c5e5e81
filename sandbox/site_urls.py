"""The site's URLconf with the simulators routed: ROOT_URLCONF while they are switched on late.

`wetechnologies/urls.py` routes /sandbox/ only when GATEWAY_SIMULATOR was on at start-up (as with
`make run`). A process that switches the simulators on afterwards (a test under live_server,
`gateway_demo` serving its own site) cannot re-read that module, so `simulator_settings()` points
ROOT_URLCONF here instead: Django re-reads ROOT_URLCONF on every request, in the live server's
threads too, and clears its URL caches when the setting changes.
"""

from django.urls import include, path

from wetechnologies import urls as site

urlpatterns = [
    path("sandbox/", include("sandbox.urls")),
    *(route for route in site.urlpatterns if getattr(route, "namespace", None) != "sandbox"),
]

handler400 = site.handler400
handler403 = site.handler403
handler404 = site.handler404
handler500 = site.handler500
