from django.urls import path

from . import views

app_name = "maintenance"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar"),
]
