from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "WeTech back office"
admin.site.site_title = "WeTech admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("wetech.urls")),
]

handler400 = "wetech.views.errors.bad_request"
handler403 = "wetech.views.errors.permission_denied"
handler404 = "wetech.views.errors.page_not_found"
handler500 = "wetech.views.errors.server_error"
