from django.contrib import admin

from .models import Membership, Profile, Team


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "time_zone")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Read-only here: teams and memberships change through Admin → Teams or `manage.py team`
    (audited)."""

    list_display = ("name", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(TeamAdmin):
    list_display = ("team", "user", "role")
    list_filter = ("team", "role")
