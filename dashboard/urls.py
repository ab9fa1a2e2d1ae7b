from django.urls import path

from . import audit_views, settings_views, views

# The namespace stays "clusters": templates and tests reverse clusters:fleet, clusters:detail...

app_name = "clusters"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("audit/", audit_views.audit_log, name="audit"),
    path("audit.csv", audit_views.audit_export, {"fmt": "csv"}, name="audit_csv"),
    path("audit.json", audit_views.audit_export, {"fmt": "json"}, name="audit_json"),
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
