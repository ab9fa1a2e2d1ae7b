from django.urls import path

from . import channel_views, views

app_name = "maintenance"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("windows/new/", views.window_create, name="window_create"),
    path("occurrences/<int:pk>/", views.occurrence, name="occurrence"),
    path("occurrences/<int:pk>/confirm/", views.occurrence_confirm, name="occurrence_confirm"),
    path("backups/", views.backups, name="backups"),
    path("backups/<int:pk>/validate/", views.backup_validate, name="backup_validate"),
    path("checklists/", views.checklist_list, name="checklists"),
    path("checklists/new/", views.checklist_start, name="checklist_start"),
    path("checklists/<int:pk>/", views.checklist, name="checklist"),
    path("steps/<int:pk>/tick/", views.step_tick, name="step_tick"),
    path("reminders/", views.reminders, name="reminders"),
    path("outbox/", views.outbox, name="outbox"),
    path("channels/", channel_views.channels, name="channels"),
    path("channels/add/", channel_views.channel_add, name="channel_add"),
    path("channels/<int:pk>/test/", channel_views.channel_test, name="channel_test"),
    path("channels/<int:pk>/toggle/", channel_views.channel_toggle, name="channel_toggle"),
    path("channels/<int:pk>/delete/", channel_views.channel_delete, name="channel_delete"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar"),
]
