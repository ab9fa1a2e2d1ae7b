"""Django admin for clusters: settings only, never credentials."""

from django.contrib import admin

from .models import Cluster, Recipient


class RecipientInline(admin.TabularInline):
    model = Recipient
    extra = 1


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "environment", "url", "poll_interval", "enabled", "last_poll_at")
    fields = ("name", "environment", "url", "poll_interval", "enabled", "drain_assist",
              "dns_server", "ingress_addresses")  # fmt: skip
    inlines = [RecipientInline]
