"""Each cluster's lowest score per UTC day (readiness.models.DailyScore), kept by a statement
trigger on readiness_evaluation and filled from the evaluations already stored."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION readiness_daily_score() RETURNS trigger AS $$
BEGIN
    INSERT INTO readiness_dailyscore (cluster_id, day, low)
    SELECT cluster_id, (evaluated_at AT TIME ZONE 'UTC')::date, min(score)
    FROM new_evaluations GROUP BY 1, 2
    ON CONFLICT (cluster_id, day)
    DO UPDATE SET low = LEAST(readiness_dailyscore.low, EXCLUDED.low);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER readiness_daily_score AFTER INSERT ON readiness_evaluation
REFERENCING NEW TABLE AS new_evaluations
FOR EACH STATEMENT EXECUTE FUNCTION readiness_daily_score();

INSERT INTO readiness_dailyscore (cluster_id, day, low)
SELECT cluster_id, (evaluated_at AT TIME ZONE 'UTC')::date, min(score)
FROM readiness_evaluation GROUP BY 1, 2;
"""

UNDO = """
DROP TRIGGER IF EXISTS readiness_daily_score ON readiness_evaluation;
DROP FUNCTION IF EXISTS readiness_daily_score();
"""

# SQLite (the embedded default): a row trigger with an upsert; datetimes are stored as UTC text.
SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS readiness_daily_score AFTER INSERT ON readiness_evaluation
BEGIN
    INSERT INTO readiness_dailyscore (cluster_id, day, low)
    VALUES (NEW.cluster_id, date(NEW.evaluated_at), NEW.score)
    ON CONFLICT (cluster_id, day) DO UPDATE SET low = min(low, excluded.low);
END;
"""

SQLITE_FILL = """
INSERT INTO readiness_dailyscore (cluster_id, day, low)
SELECT cluster_id, date(evaluated_at), min(score) FROM readiness_evaluation GROUP BY 1, 2;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)
        schema_editor.execute(SQLITE_FILL)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS readiness_daily_score")


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0003_row_digest"),
        ("readiness", "0002_checkresult_lean_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyScore",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("low", models.PositiveSmallIntegerField()),
                (
                    "cluster",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="clusters.cluster",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("cluster", "day"), name="dailyscore_unique_day")
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
