from django.urls import path

from . import views

app_name = "readiness"

urlpatterns = [
    path("findings/", views.findings, name="findings"),
]
