from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("clusters.urls")),
    path("readiness/", include("readiness.urls")),
    path("maintenance/", include("maintenance.urls")),
    path("accounts/sso/", include("accounts.sso.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
