"""Cluster.team becomes required once 0004 gave every cluster the default team (a separate
migration: PostgreSQL refuses ALTER TABLE with the data migration's trigger events pending)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clusters", "0005_teams")]

    operations = [
        migrations.AlterField(
            model_name="cluster",
            name="team",
            field=models.ForeignKey(
                help_text="The team that owns the cluster: its members' roles apply to it.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="clusters",
                to="accounts.team",
            ),
        ),
    ]
