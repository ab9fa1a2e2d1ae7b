from django.urls import path

from . import views

app_name = "clusters"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("clusters/<str:name>/", views.detail, name="detail"),
]
