"""Each cluster's counts of failing and waived checks per rule in its latest evaluation
(readiness.models.CurrentCount), kept by statement triggers on readiness_rulecount and
readiness_evaluation and a row trigger on renaming a cluster (PostgreSQL; SQLite counts at
read time), filled from the stored counts, indexed for the findings page's most affected
clusters and first rows of each rule."""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS = """
-- The rows of CLUSTERS again, from the RuleCount rows of each one's latest evaluation (the
-- order of readiness.selectors.LATEST_FIRST), one row per rule. A transaction refreshing a
-- cluster waits for another that is (a poll and a waiver's re-score at once): its statements
-- then see what that one committed (READ COMMITTED), so the last refresh counts the latest
-- evaluation and the two never insert the same (cluster, rule).
CREATE OR REPLACE FUNCTION readiness_current_refresh(clusters bigint[]) RETURNS void AS $$
DECLARE
    cluster bigint;
BEGIN
    FOR cluster IN SELECT DISTINCT c FROM unnest(clusters) AS c ORDER BY c LOOP
        PERFORM pg_advisory_xact_lock(1464550211, mod(cluster, 2147483647)::int);  -- "WKCC"
    END LOOP;
    DELETE FROM readiness_currentcount WHERE cluster_id = ANY(clusters);
    INSERT INTO readiness_currentcount (cluster_id, cluster_name, evaluation_id, rule,
        category, severity, severity_rank, failing, waived, mixed)
    SELECT c.id, c.name, r.evaluation_id, r.rule, min(r.category),
        (array_agg(r.severity ORDER BY r.rank, r.severity))[1], min(r.rank),
        coalesce(sum(r.checks) FILTER (WHERE r.status = 'fail'), 0),
        coalesce(sum(r.checks) FILTER (WHERE r.status = 'waived'), 0),
        count(DISTINCT (r.category, r.severity)) > 1
    FROM clusters_cluster c
    CROSS JOIN LATERAL (
        SELECT e.id FROM readiness_evaluation e WHERE e.cluster_id = c.id
        ORDER BY e.evaluated_at DESC, e.id DESC LIMIT 1
    ) latest
    JOIN LATERAL (
        SELECT *, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1
            WHEN 'info' THEN 2 ELSE 3 END AS rank
        FROM readiness_rulecount WHERE evaluation_id = latest.id
    ) r ON true
    WHERE c.id = ANY(clusters)
    GROUP BY c.id, c.name, r.evaluation_id, r.rule;
END;
$$ LANGUAGE plpgsql;

-- The counts of EVALUATIONS changed: refresh the clusters whose latest evaluation is one of
-- them (pruning the checks of older evaluations refreshes nothing).
CREATE OR REPLACE FUNCTION readiness_current_counts_of(evaluations bigint[]) RETURNS void AS $$
BEGIN
    PERFORM readiness_current_refresh(ARRAY(
        SELECT DISTINCT e.cluster_id FROM readiness_evaluation e
        WHERE e.id = ANY(evaluations) AND NOT EXISTS (
            SELECT 1 FROM readiness_evaluation n WHERE n.cluster_id = e.cluster_id
            AND n.evaluated_at >= e.evaluated_at AND (n.evaluated_at, n.id) > (e.evaluated_at, e.id)
        )
    ));
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_current_counts_added() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_counts_of(ARRAY(SELECT DISTINCT evaluation_id FROM new_counts));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_current_counts_removed() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_counts_of(ARRAY(SELECT DISTINCT evaluation_id FROM old_counts));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_current_counts_updated() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_counts_of(ARRAY(
        SELECT evaluation_id FROM old_counts UNION SELECT evaluation_id FROM new_counts
    ));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- A stored evaluation that is now its cluster's latest (a poll, a re-score after a waiver
-- change) replaces the cluster's rows: none until its checks arrive.
CREATE OR REPLACE FUNCTION readiness_current_evaluations_added() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_refresh(ARRAY(
        SELECT DISTINCT o.cluster_id FROM new_evaluations o
        WHERE NOT EXISTS (
            SELECT 1 FROM readiness_evaluation n WHERE n.cluster_id = o.cluster_id
            AND n.evaluated_at >= o.evaluated_at AND (n.evaluated_at, n.id) > (o.evaluated_at, o.id)
        )
    ));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Deleted evaluations: refresh the clusters whose latest evaluation was one of them (thinning
-- old evaluations refreshes nothing).
CREATE OR REPLACE FUNCTION readiness_current_evaluations_removed() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_refresh(ARRAY(
        SELECT DISTINCT o.cluster_id FROM old_evaluations o
        WHERE NOT EXISTS (
            SELECT 1 FROM readiness_evaluation n WHERE n.cluster_id = o.cluster_id
            AND n.evaluated_at >= o.evaluated_at AND (n.evaluated_at, n.id) > (o.evaluated_at, o.id)
        )
    ));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_current_evaluations_updated() RETURNS trigger AS $$
BEGIN
    PERFORM readiness_current_refresh(ARRAY(
        SELECT cluster_id FROM old_evaluations UNION SELECT cluster_id FROM new_evaluations
    ));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION readiness_current_cluster_renamed() RETURNS trigger AS $$
BEGIN
    UPDATE readiness_currentcount SET cluster_name = NEW.name WHERE cluster_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER readiness_current_counts_added AFTER INSERT ON readiness_rulecount
REFERENCING NEW TABLE AS new_counts
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_counts_added();

CREATE TRIGGER readiness_current_counts_removed AFTER DELETE ON readiness_rulecount
REFERENCING OLD TABLE AS old_counts
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_counts_removed();

CREATE TRIGGER readiness_current_counts_updated AFTER UPDATE ON readiness_rulecount
REFERENCING OLD TABLE AS old_counts NEW TABLE AS new_counts
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_counts_updated();

CREATE TRIGGER readiness_current_evaluations_added AFTER INSERT ON readiness_evaluation
REFERENCING NEW TABLE AS new_evaluations
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_evaluations_added();

CREATE TRIGGER readiness_current_evaluations_removed AFTER DELETE ON readiness_evaluation
REFERENCING OLD TABLE AS old_evaluations
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_evaluations_removed();

CREATE TRIGGER readiness_current_evaluations_updated
AFTER UPDATE ON readiness_evaluation
REFERENCING OLD TABLE AS old_evaluations NEW TABLE AS new_evaluations
FOR EACH STATEMENT EXECUTE FUNCTION readiness_current_evaluations_updated();

CREATE TRIGGER readiness_current_cluster_renamed AFTER UPDATE OF name ON clusters_cluster
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION readiness_current_cluster_renamed();

-- Each rule's most affected clusters (by failing, waived or both, then name) and its first
-- rows (by severity, then evaluation) are read from the head of these.
CREATE INDEX currentcount_failing ON readiness_currentcount
    (rule, failing DESC, cluster_name COLLATE "C") WHERE failing > 0;
CREATE INDEX currentcount_waived ON readiness_currentcount
    (rule, waived DESC, cluster_name COLLATE "C") WHERE waived > 0;
CREATE INDEX currentcount_both ON readiness_currentcount
    (rule, (failing + waived) DESC, cluster_name COLLATE "C");
CREATE INDEX currentcount_first ON readiness_currentcount (rule, severity_rank, evaluation_id);
CREATE INDEX currentcount_mixed ON readiness_currentcount (cluster_id) WHERE mixed;

SELECT readiness_current_refresh(ARRAY(SELECT id FROM clusters_cluster));
"""

UNDO = """
DROP TRIGGER IF EXISTS readiness_current_counts_added ON readiness_rulecount;
DROP TRIGGER IF EXISTS readiness_current_counts_removed ON readiness_rulecount;
DROP TRIGGER IF EXISTS readiness_current_counts_updated ON readiness_rulecount;
DROP TRIGGER IF EXISTS readiness_current_evaluations_added ON readiness_evaluation;
DROP TRIGGER IF EXISTS readiness_current_evaluations_removed ON readiness_evaluation;
DROP TRIGGER IF EXISTS readiness_current_evaluations_updated ON readiness_evaluation;
DROP TRIGGER IF EXISTS readiness_current_cluster_renamed ON clusters_cluster;
DROP FUNCTION IF EXISTS readiness_current_counts_added();
DROP FUNCTION IF EXISTS readiness_current_counts_removed();
DROP FUNCTION IF EXISTS readiness_current_counts_updated();
DROP FUNCTION IF EXISTS readiness_current_evaluations_added();
DROP FUNCTION IF EXISTS readiness_current_evaluations_removed();
DROP FUNCTION IF EXISTS readiness_current_evaluations_updated();
DROP FUNCTION IF EXISTS readiness_current_cluster_renamed();
DROP FUNCTION IF EXISTS readiness_current_counts_of(bigint[]);
DROP FUNCTION IF EXISTS readiness_current_refresh(bigint[]);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO)


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0007_node_down_since"),
        ("readiness", "0007_checks_unconstrained"),
    ]

    operations = [
        migrations.CreateModel(
            name="CurrentCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("cluster_name", models.CharField(max_length=64)),
                ("evaluation_id", models.BigIntegerField()),
                ("rule", models.CharField(max_length=64)),
                ("category", models.CharField(max_length=32)),
                ("severity", models.CharField(max_length=8)),
                ("severity_rank", models.PositiveSmallIntegerField()),
                ("failing", models.PositiveIntegerField()),
                ("waived", models.PositiveIntegerField()),
                ("mixed", models.BooleanField()),
                (
                    "cluster",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="clusters.cluster",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("cluster", "rule"), name="currentcount_unique")
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
