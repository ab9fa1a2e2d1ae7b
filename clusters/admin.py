"""Django admin for clusters: a read-only list that points to Watchkeeper's own pages.

Clusters are added, changed and deleted on /clusters/new/ and /clusters/<name>/settings/ (or
with ``manage.py cluster``), which validate every field, test the connection and keep the
credentials encrypted; a second, unvalidated way to change them would bypass all that.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Cluster, Recipient


class RecipientInline(admin.TabularInline):
    model = Recipient
    fields = ("email", "user")
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "environment", "url", "poll_interval", "enabled", "last_poll_at",
                    "settings_page")  # fmt: skip
    fields = ("name", "environment", "url", "poll_interval", "enabled", "drain_assist",
              "window_notices", "dns_server", "ingress_addresses")  # fmt: skip
    inlines = [RecipientInline]

    @admin.display(description="settings")
    def settings_page(self, obj: Cluster) -> str:
        return format_html(
            '<a href="{}">edit in Watchkeeper</a>', reverse("clusters:settings", args=[obj.name])
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
