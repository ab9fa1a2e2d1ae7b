"""Profile: weekly digest preferences and the per-user calendar feed token (existing profiles
each get their own token: added nullable, filled, then made unique)."""

import datetime
import secrets

import django.core.validators
from django.db import migrations, models

import accounts.models


def fill_tokens(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    for profile in Profile.objects.filter(calendar_token__isnull=True):
        profile.calendar_token = secrets.token_urlsafe(24)
        profile.save(update_fields=["calendar_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="digest_enabled",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="profile",
            name="digest_weekday",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="0 = Monday ... 6 = Sunday",
                validators=[django.core.validators.MaxValueValidator(6)],
            ),
        ),
        migrations.AddField(
            model_name="profile",
            name="digest_time",
            field=models.TimeField(default=datetime.time(8, 0)),
        ),
        migrations.AddField(
            model_name="profile",
            name="calendar_token",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="profile",
            name="calendar_token",
            field=models.CharField(
                default=accounts.models.new_calendar_token, max_length=64, unique=True
            ),
        ),
    ]
