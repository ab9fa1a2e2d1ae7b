from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path, reverse_lazy

from . import team_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", login_not_required(views.ThrottledLoginView.as_view()), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        views.local_login_only(
            auth_views.PasswordChangeView.as_view(
                success_url=reverse_lazy("accounts:password_done")
            )
        ),
        name="password_change",
    ),
    path("password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_done"),
    path(
        "reset/",
        login_not_required(
            views.local_login_only(
                auth_views.PasswordResetView.as_view(
                    success_url=reverse_lazy("accounts:reset_done"),
                    email_template_name="registration/password_reset_email.txt",
                    subject_template_name="registration/password_reset_subject.txt",
                )
            )
        ),
        name="password_reset",
    ),
    path(
        "reset/sent/",
        login_not_required(auth_views.PasswordResetDoneView.as_view()),
        name="reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        login_not_required(
            views.local_login_only(
                auth_views.PasswordResetConfirmView.as_view(
                    success_url=reverse_lazy("accounts:reset_complete")
                )
            )
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/complete/",
        login_not_required(auth_views.PasswordResetCompleteView.as_view()),
        name="reset_complete",
    ),
    path("preferences/", views.preferences, name="preferences"),
    path("digest/", views.digest, name="digest"),
    path("calendar/rotate/", views.calendar_rotate, name="calendar_rotate"),
    path("tokens/new/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("teams/", team_views.team_list, name="teams"),
    path("teams/new/", team_views.team_create, name="team_create"),
    path("teams/<int:team_id>/member/", team_views.team_member, name="team_member"),
]
