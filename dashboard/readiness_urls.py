"""The readiness pages' URLs (namespace "readiness"): the waiver pages that re-score are the
dashboard's (dashboard.waiver_views), the rest readiness.views."""

from django.urls import path

from readiness import views

from . import waiver_views

app_name = "readiness"

urlpatterns = [
    path("findings/", views.findings, name="findings"),
    path("findings.csv", views.findings_csv, name="findings_csv"),
    path("waivers/", views.waivers, name="waivers"),
    path("waivers/new/", waiver_views.waiver_new, name="waiver_new"),
    path("waivers/<int:pk>/revoke/", waiver_views.waiver_revoke, name="waiver_revoke"),
]
