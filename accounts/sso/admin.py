from django.contrib import admin

from .models import Identity


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "issuer", "subject", "last_sign_in")
    search_fields = ("user__username", "subject")
    readonly_fields = ("groups", "last_sign_in")
