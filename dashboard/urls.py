from django.urls import path

from . import settings_views, views

# The namespace stays "clusters": templates and tests reverse clusters:fleet, clusters:detail...

app_name = "clusters"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("clusters/new/", settings_views.cluster_new, name="new"),
    path("clusters/<str:name>/", views.detail, name="detail"),
    path("clusters/<str:name>/settings/", settings_views.cluster_settings, name="settings"),
    path(
        "clusters/<str:name>/settings/calendar-token/",
        settings_views.calendar_token_rotate,
        name="calendar_token_rotate",
    ),
    path("clusters/<str:name>/report/", views.report, name="report"),
    path("clusters/<str:name>/delete/", settings_views.cluster_delete, name="delete"),
    path("clusters/<str:name>/poll/", views.poll_now, name="poll_now"),
    path("clusters/<str:name>/poll/status/", views.poll_status, name="poll_status"),
]
