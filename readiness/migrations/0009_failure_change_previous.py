from django.db import migrations, models

# failurechange_failure: the rows of each failure, new ones apart from resolved ones
# (readiness.changes), in code point order on PostgreSQL, which is Python's order of the keys
# (SQLite's BINARY order is that already).
# On PostgreSQL it also holds the link, so that the failures with one row in a span are
# counted from the index alone.
FAILURE_INDEX = (
    "CREATE INDEX failurechange_failure ON readiness_failurechange "
    "(cluster_id, appeared, rule{c}, object_type{c}, object_name{c}, at){include}"
)


def create_failure_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        sql = FAILURE_INDEX.format(c=' COLLATE "C"', include=" INCLUDE (linked, previous_at)")
    else:
        sql = FAILURE_INDEX.format(c="", include="")
    schema_editor.execute(sql)


def drop_failure_index(apps, schema_editor):
    schema_editor.execute("DROP INDEX failurechange_failure")


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0007_node_down_since"),
        ("readiness", "0008_current_count"),
    ]

    operations = [
        # Rows stored before are not linked: "what changed" reads them as it did, until the
        # prune drops them (8 days).
        migrations.AddField(
            model_name="failurechange",
            name="linked",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="failurechange",
            name="previous_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="failurechange",
            index=models.Index(
                condition=models.Q(
                    ("linked", False), ("previous_at__isnull", False), _connector="OR"
                ),
                fields=["cluster", "at"],
                name="failurechange_followed",
            ),
        ),
        migrations.RunPython(create_failure_index, drop_failure_index),
        migrations.RemoveIndex(model_name="failurechange", name="readiness_f_cluster_e3b64c_idx"),
    ]
