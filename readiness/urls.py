from django.urls import path

from . import views

app_name = "readiness"

urlpatterns = [
    path("findings/", views.findings, name="findings"),
    path("waivers/", views.waivers, name="waivers"),
    path("waivers/new/", views.waiver_new, name="waiver_new"),
    path("waivers/<int:pk>/revoke/", views.waiver_revoke, name="waiver_revoke"),
]
