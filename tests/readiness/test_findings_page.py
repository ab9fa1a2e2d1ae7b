"""The findings page: every cluster's failing checks by rule, filtered in SQL, capped, escaped."""

from datetime import timedelta

import pytest

from clusters.models import Cluster
from dashboard import pipeline
from readiness import catalogue, services
from readiness.findings import FindingsFilter, findings
from readiness.models import CheckResult, Evaluation

from .factories import NOW, service, snapshot

pytestmark = pytest.mark.django_db
URL = "/readiness/findings/"
HOSTILE = "<script>alert(1)</script>"
QUERIES = 8  # session, user, profile, role groups; clusters, latest evaluations, counts, rows


def scored(name: str, environment: str = "production", services_=None) -> Cluster:
    """A cluster scored once from a factories snapshot: api runs an unpinned image."""
    cluster = Cluster.objects.create(
        name=name, url="unix:///var/run/docker.sock", environment=environment
    )
    if services_ is None:
        services_ = [service("api", image="api:latest"), service("web")]
    pipeline.evaluation_run(cluster=cluster, snapshot=snapshot(services=services_), now=NOW)
    return cluster


def bulk_checks(cluster: Cluster, rule: str, count: int, *, prefix: str = "svc", **fields):
    """COUNT failing checks of RULE added to the cluster's latest evaluation."""
    evaluation = Evaluation.objects.filter(cluster=cluster).first()
    meta = catalogue.get(rule)
    CheckResult.objects.bulk_create(
        CheckResult(
            evaluation=evaluation, rule=rule, category=meta.category,
            severity=fields.get("severity", meta.severity), status=fields.get("status", "fail"),
            object_type="service", object_id=f"id-{prefix}-{i}", object_name=f"{prefix}-{i:05}",
            message=fields.get("message", f"{rule} fails"), remediation="fix it",
        )
        for i in range(count)
    )  # fmt: skip


def page(client, **query):
    response = client.get(URL, query)
    assert response.status_code == 200
    return response


def rules_on(response) -> set[str]:
    return {group.rule for group in response.context["result"].groups}


def test_it_groups_failing_checks_by_rule_with_counts_per_cluster(client, viewer):
    scored("lab")
    scored("prod")
    scored("quiet", services_=[service("web")])
    client.force_login(viewer)
    response = page(client)
    groups = {group.rule: group for group in response.context["result"].groups}
    tag = groups["images.tag-pinned"]
    assert (tag.severity, tag.category, tag.matching) == ("critical", "images", 2)
    assert [(c.cluster, c.failing) for c in tag.clusters] == [("lab", 1), ("prod", 1)]
    assert tag.title == catalogue.get("images.tag-pinned").title
    reboot = groups["operations.weekly-reboot"]
    assert reboot.matching == 15 and len(reboot.clusters) == 3  # five nodes on three clusters
    ordered = [group.severity for group in response.context["result"].groups]
    assert ordered == sorted(ordered, key=["critical", "warning", "info"].index)
    body = response.text
    assert 'id="rule-images.tag-pinned"' in body and tag.title in body
    assert "Copy" in body and "<pre>" in body  # remediation, copyable
    assert '<select name="rule">' in body and "topology.manager-count" in body


@pytest.mark.parametrize(
    ("query", "field", "present", "absent"),
    [
        ({"cluster": "lab"}, "cluster", {"lab"}, {"prod", "stage"}),
        ({"environment": "staging"}, "cluster", {"stage"}, {"lab", "prod"}),
        ({"q": "API"}, "object_name", {"api"}, {"m1", "lab", "web"}),
    ],
)
def test_each_filter_narrows_the_objects(client, viewer, query, field, present, absent):
    scored("lab")
    scored("prod")
    scored("stage", environment="staging")
    client.force_login(viewer)
    everything = page(client).context["result"]
    narrowed = page(client, **query).context["result"]
    assert 0 < narrowed.matching < everything.matching
    seen = {getattr(row, field) for group in narrowed.groups for row in group.rows}
    assert seen == present and not (absent & seen)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"severity": "critical"}, {"images.tag-pinned", "operations.backup-restore-tested"}),
        ({"category": "images"}, {"images.tag-pinned", "images.digest-pinned"}),
        ({"rule": "operations.weekly-reboot"}, {"operations.weekly-reboot"}),
        ({"severity": "warning", "category": "images"}, {"images.digest-pinned"}),
    ],
)
def test_each_filter_narrows_the_rules(client, viewer, query, expected):
    scored("lab")
    client.force_login(viewer)
    assert len(rules_on(page(client))) > len(expected)
    response = page(client, **query)
    assert rules_on(response) == expected
    for group in response.context["result"].groups:
        assert all(row.severity == query.get("severity", row.severity) for row in group.rows)


def test_invalid_filter_values_are_ignored_with_a_note(client, viewer):
    scored("lab")
    client.force_login(viewer)
    everything = page(client).context["result"].matching
    response = page(
        client, cluster="nowhere", severity="fatal", category="x", rule="no.such", show="?",
        environment="moon", q="x" * 101,
    )  # fmt: skip
    assert response.context["result"].matching == everything
    notes = response.context["notes"]
    assert len(notes) == 7
    assert "Ignored severity “fatal”: no such severity." in notes
    assert "Ignored severity “fatal”" in response.text


def test_an_htmx_request_gets_only_the_results_fragment(client, viewer):
    scored("lab")
    client.force_login(viewer)
    response = client.get(URL, {"severity": "critical"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    body = response.text
    assert body.lstrip().startswith('<div id="findings-results">')
    assert "<form" not in body and "images.tag-pinned" in body and "weekly-reboot" not in body
    restore = client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.text  # a history restore needs the whole page
    full = page(client, severity="critical").text
    assert 'hx-get="/readiness/findings/"' in full and 'action="/readiness/findings/"' in full
    assert 'hx-push-url="true"' in full and '<option value="critical" selected>' in full


def test_waived_checks_are_hidden_by_default_and_shown_with_a_badge(client, viewer, operator):
    cluster = scored("lab")
    waiver = services.waiver_create(
        cluster=cluster, rule="images.tag-pinned", selector="api", reason="legacy, ticket 12",
        owner=operator, expires_at=NOW + timedelta(days=30), created_by=operator, now=NOW,
    )  # fmt: skip
    pipeline.evaluation_run(
        cluster=cluster, snapshot=snapshot(services=[service("api", image="api:latest")]), now=NOW
    )
    client.force_login(viewer)
    default = page(client)
    assert "images.tag-pinned" not in rules_on(default)
    assert default.context["result"].hidden_waived == 1
    assert "1 waived check also matches" in default.text
    waived = page(client, show="waived")
    assert rules_on(waived) == {"images.tag-pinned"}
    assert f'href="/readiness/waivers/#waiver-{waiver.pk}"' in waived.text
    assert ">waived</a>" in waived.text
    both = page(client, show="all")
    assert "images.tag-pinned" in rules_on(both)
    assert both.context["result"].matching == default.context["result"].matching + 1


def test_it_caps_the_rows_per_rule_and_in_all(client, viewer):
    cluster = scored("lab", services_=[service("web")])
    rules = [r.id for r in catalogue.all_rules() if r.target == "S"][:11]
    bulk_checks(cluster, rules[0], 60)
    for rule in rules[1:]:
        bulk_checks(cluster, rule, 50)
    client.force_login(viewer)
    one_rule = page(client, rule=rules[0])
    assert one_rule.text.count('<li class="finding ') == 50
    assert "10 more — narrow the filter" in one_rule.text
    response = page(client, q="svc-")
    result = response.context["result"]
    assert (result.matching, result.shown, result.more) == (560, 250, 310)
    assert [len(group.rows) for group in result.groups] == [50] * 5 + [0] * 6
    assert response.text.count('<li class="finding ') == 250
    assert "Showing 250 of 560 checks" in response.text
    assert "310 more — narrow the filter" in response.text
    assert response.text.count("50 more — narrow the filter") == 5
    assert "60 more — narrow the filter" in response.text


def test_the_query_count_does_not_grow_with_clusters_or_findings(
    client, viewer, operator, django_assert_num_queries
):
    scored("one")
    client.force_login(viewer)
    with django_assert_num_queries(QUERIES):
        small = page(client)
    assert small.context["result"].matching < 20
    for name in ("two", "three", "four", "five", "six"):
        cluster = scored(name)
        bulk_checks(cluster, "images.tag-pinned", 1000)
        services.waiver_create(
            cluster=cluster, rule="images.digest-pinned", reason="known", owner=operator,
            expires_at=NOW + timedelta(days=3), created_by=operator, now=NOW,
        )  # fmt: skip
    with django_assert_num_queries(QUERIES):
        large = page(client, show="all")
    assert large.context["result"].matching > 5000
    with django_assert_num_queries(QUERIES):
        page(client, severity="critical", q="svc", environment="production")


def test_hostile_object_names_and_messages_render_as_text(client, viewer):
    cluster = scored("lab", services_=[service(HOSTILE, image="nginx:latest")])
    bulk_checks(cluster, "images.tag-pinned", 1, prefix=HOSTILE, message=f"says {HOSTILE}")
    client.force_login(viewer)
    body = page(client).text
    assert HOSTILE not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "says &lt;script&gt;" in body


def test_it_needs_a_role(client, nobody):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(nobody)
    assert client.get(URL).status_code == 403


def test_the_selector_filters_in_sql_and_leaves_older_evaluations_out():
    cluster = scored("lab")
    pipeline.evaluation_run(
        cluster=cluster, snapshot=snapshot(services=[service("web")]), now=NOW + timedelta(hours=1)
    )
    result = findings(filters=FindingsFilter(), clusters=[cluster])
    assert "images.tag-pinned" not in {g.rule for g in result.groups}  # fixed since
    assert result.clusters_scored == 1
    filters, notes = FindingsFilter.from_query(
        {"cluster": "lab", "rule": "nope"}, cluster_names=["lab"]
    )
    assert filters == FindingsFilter(cluster="lab") and notes == [
        "Ignored rule “nope”: no such rule."
    ]


def test_it_names_twelve_clusters_per_rule_and_counts_the_rest(client, viewer):
    for index in range(14):
        scored(f"c{index:02}", services_=[service("web")])
    client.force_login(viewer)
    response = page(client, rule="operations.notifications")
    (group,) = response.context["result"].groups
    assert group.cluster_count == 14 and len(group.clusters_named) == 12
    counts = response.text.split('class="small rule-counts"')[1].split("</p>")[0]
    assert "and 2 more clusters" in counts
    assert 'href="/clusters/c11/">c11</a>' in counts
    assert "c12" not in counts  # counted, not named (its row still links it)
