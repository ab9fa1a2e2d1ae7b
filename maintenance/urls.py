from django.urls import path

from . import channel_views, feed_views, freeze_views, reminder_views, views, window_views

app_name = "maintenance"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("windows/new/", views.window_create, name="window_create"),
    path("windows/<int:pk>/", window_views.window, name="window"),
    path("windows/<int:pk>/edit/", window_views.window_edit, name="window_edit"),
    path("windows/<int:pk>/delete/", window_views.window_delete, name="window_delete"),
    path("occurrences/<int:pk>/", views.occurrence, name="occurrence"),
    path("occurrences/<int:pk>/cancel/", window_views.occurrence_cancel, name="occurrence_cancel"),
    path(
        "occurrences/<int:pk>/restore/",
        window_views.occurrence_restore,
        name="occurrence_restore",
    ),
    path("freezes/", freeze_views.freezes, name="freezes"),
    path("freezes/add/", freeze_views.freeze_add, name="freeze_add"),
    path("freezes/<int:pk>/delete/", freeze_views.freeze_delete, name="freeze_delete"),
    path("occurrences/<int:pk>/confirm/", views.occurrence_confirm, name="occurrence_confirm"),
    path("backups/", views.backups, name="backups"),
    path("backups/<int:pk>/validate/", views.backup_validate, name="backup_validate"),
    path("checklists/", views.checklist_list, name="checklists"),
    path("checklists/new/", views.checklist_start, name="checklist_start"),
    path("checklists/<int:pk>/", views.checklist, name="checklist"),
    path("steps/<int:pk>/tick/", views.step_tick, name="step_tick"),
    path("reminders/", feed_views.reminders, name="reminders"),
    path("reminders/<int:pk>/retry/", reminder_views.reminder_retry, name="reminder_retry"),
    path("outbox/", feed_views.outbox, name="outbox"),
    path("channels/", channel_views.channels, name="channels"),
    path("channels/add/", channel_views.channel_add, name="channel_add"),
    path("channels/<int:pk>/test/", channel_views.channel_test, name="channel_test"),
    path("channels/<int:pk>/toggle/", channel_views.channel_toggle, name="channel_toggle"),
    path("channels/<int:pk>/delete/", channel_views.channel_delete, name="channel_delete"),
    path("calendar/<str:token>.ics", feed_views.calendar_feed, name="calendar"),
    path("calendar/user/<str:token>.ics", feed_views.user_calendar_feed, name="user_calendar"),
]
