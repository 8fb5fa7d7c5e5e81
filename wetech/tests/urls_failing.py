"""A URLconf with a view that always fails, for the 500-page test."""

from django.urls import path

from wetechnologies import urls as site


def boom(request):
    raise RuntimeError("secret-detail-in-exception")


urlpatterns = [path("boom/", boom), *site.urlpatterns]
handler500 = "wetech.views.errors.server_error"
