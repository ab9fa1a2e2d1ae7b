from django.urls import path

from . import views

app_name = "clusters"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("clusters/<str:name>/", views.detail, name="detail"),
    path("clusters/<str:name>/poll/", views.poll_now, name="poll_now"),
    path("clusters/<str:name>/poll/status/", views.poll_status, name="poll_status"),
]
