"""A URLconf with a view that always fails, for the 500-page test."""

from django.urls import include, path


def boom(request):
    raise RuntimeError("secret-detail-in-exception")


urlpatterns = [path("boom/", boom), path("", include("wetechnologies.urls"))]
handler500 = "wetech.views.errors.server_error"
