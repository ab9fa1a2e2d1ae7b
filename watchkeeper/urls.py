from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("dashboard.urls")),
    path("readiness/", include("dashboard.readiness_urls")),
    path("maintenance/", include("maintenance.urls")),
    path("accounts/sso/", include("accounts.sso.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("api.urls")),
    path("admin/", admin.site.urls),
]
