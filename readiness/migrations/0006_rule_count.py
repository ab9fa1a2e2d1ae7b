"""Per-evaluation counts of failing and waived checks by rule (readiness.models.RuleCount),
kept by statement triggers on readiness_checkresult (PostgreSQL; SQLite counts at read time)
and filled from the checks already stored; checks indexed by (evaluation, status, rule)."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS = """
CREATE OR REPLACE FUNCTION readiness_rule_count_add() RETURNS trigger AS $$
BEGIN
    INSERT INTO readiness_rulecount (evaluation_id, rule, category, severity, status, checks)
    SELECT evaluation_id, rule, category, severity, status, count(*)
    FROM new_checks WHERE status IN ('fail', 'waived') GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (evaluation_id, rule, category, severity, status)
    DO UPDATE SET checks = readiness_rulecount.checks + EXCLUDED.checks;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Deletes and updates (pruning, tests) recount the evaluations they touched.
CREATE OR REPLACE FUNCTION readiness_rule_count_recount(evaluations bigint[]) RETURNS void AS $$
BEGIN
    DELETE FROM readiness_rulecount WHERE evaluation_id = ANY(evaluations);
    INSERT INTO readiness_rulecount (evaluation_id, rule, category, severity, status, checks)
    SELECT evaluation_id, rule, category, severity, status, count(*)
    FROM readiness_checkresult
    WHERE evaluation_id = ANY(evaluations) AND status IN ('fail', 'waived')
    GROUP BY 1, 2, 3, 4, 5;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_rule_count_deleted() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_rule_count_recount(ARRAY(SELECT DISTINCT evaluation_id FROM old_checks));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_rule_count_updated() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_rule_count_recount(ARRAY(
        SELECT evaluation_id FROM old_checks UNION SELECT evaluation_id FROM new_checks
    ));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER readiness_rule_count_add AFTER INSERT ON readiness_checkresult
REFERENCING NEW TABLE AS new_checks
FOR EACH STATEMENT EXECUTE FUNCTION readiness_rule_count_add();

CREATE TRIGGER readiness_rule_count_deleted AFTER DELETE ON readiness_checkresult
REFERENCING OLD TABLE AS old_checks
FOR EACH STATEMENT EXECUTE FUNCTION readiness_rule_count_deleted();

CREATE TRIGGER readiness_rule_count_updated AFTER UPDATE ON readiness_checkresult
REFERENCING OLD TABLE AS old_checks NEW TABLE AS new_checks
FOR EACH STATEMENT EXECUTE FUNCTION readiness_rule_count_updated();

INSERT INTO readiness_rulecount (evaluation_id, rule, category, severity, status, checks)
SELECT evaluation_id, rule, category, severity, status, count(*)
FROM readiness_checkresult WHERE status IN ('fail', 'waived') GROUP BY 1, 2, 3, 4, 5;
"""

UNDO = """
DROP TRIGGER IF EXISTS readiness_rule_count_add ON readiness_checkresult;
DROP TRIGGER IF EXISTS readiness_rule_count_deleted ON readiness_checkresult;
DROP TRIGGER IF EXISTS readiness_rule_count_updated ON readiness_checkresult;
DROP FUNCTION IF EXISTS readiness_rule_count_add();
DROP FUNCTION IF EXISTS readiness_rule_count_deleted();
DROP FUNCTION IF EXISTS readiness_rule_count_updated();
DROP FUNCTION IF EXISTS readiness_rule_count_recount(bigint[]);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO)


class Migration(migrations.Migration):
    dependencies = [
        ("readiness", "0005_failure_change"),
    ]

    operations = [
        migrations.CreateModel(
            name="RuleCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rule", models.CharField(max_length=64)),
                ("category", models.CharField(max_length=32)),
                ("severity", models.CharField(max_length=8)),
                ("status", models.CharField(max_length=16)),
                ("checks", models.PositiveIntegerField()),
            ],
        ),
        migrations.AddIndex(
            model_name="checkresult",
            index=models.Index(
                fields=["evaluation", "status", "rule"], name="checkresult_eval_status_rule"
            ),
        ),
        migrations.RemoveIndex(
            model_name="checkresult",
            name="readiness_c_evaluat_bd5192_idx",
        ),
        migrations.AddField(
            model_name="rulecount",
            name="evaluation",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="readiness.evaluation",
            ),
        ),
        migrations.AddConstraint(
            model_name="rulecount",
            constraint=models.UniqueConstraint(
                fields=("evaluation", "rule", "category", "severity", "status"),
                name="rulecount_unique",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
