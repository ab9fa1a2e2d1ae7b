"""The notices other apps queue (critical finding, grade drop, waiver expired, node down) in
the same words as the strings their callers build today, from templates/maintenance/email/."""

from datetime import UTC, datetime
from types import SimpleNamespace as Obj

from maintenance.services.reminders import notice

CLUSTER = Obj(name="prod&<co>")
AT = datetime(2027, 5, 6, 9, 5, 7, tzinfo=UTC)


def test_a_critical_finding_reads_as_before():
    check = Obj(
        rule="security.no-root",
        object=Obj(type="service", name="web<1>"),
        message="web runs as root & more",
        remediation="Set USER in the image.",
    )
    item = notice("critical_finding", "k", {"cluster": CLUSTER, "check": check})
    assert (item.kind, item.subject_key) == ("critical_finding", "k")
    assert item.title == (
        f"{CLUSTER.name}: {check.rule} fails on {check.object.type} {check.object.name}"
    )
    assert item.body == f"{check.message}\n\nHow to fix: {check.remediation}"


def test_a_grade_drop_reads_as_before_capped_or_not():
    previous = Obj(grade="B", score=81)
    for capped in (True, False):
        score = Obj(grade="C", score=64, grade_capped=capped)
        context = {"cluster": CLUSTER, "previous": previous, "score": score}
        item = notice("grade_drop", "g", {**context, "new_failures": 3, "resolved": 1})
        assert item.title == (
            f"{CLUSTER.name}: readiness grade dropped from {previous.grade} to {score.grade}"
        )
        assert item.body == (
            f"Score {previous.score} -> {score.score}."
            + (" A critical check fails: the grade is capped at C." if capped else "")
            + "\nNew failures: 3; resolved: 1."
        )


def test_an_expired_waiver_reads_as_before_with_or_without_a_selector():
    for selector in ("app=web&db", ""):
        waiver = Obj(
            cluster=CLUSTER,
            rule="ops.backup",
            selector=selector,
            owner=Obj(get_username=lambda: "otto<"),
            expires_at=AT,
            reason="migration <week>",
        )
        item = notice("waiver_expired", "w", {"waiver": waiver})
        assert item.title == f"{waiver.cluster.name}: waiver of {waiver.rule} expired"
        assert item.body == (
            f"The waiver of {waiver.rule} ({waiver.selector or 'every object'}) owned "
            f"by {waiver.owner.get_username()} expired on {waiver.expires_at:%Y-%m-%d %H:%M} "
            f"UTC; its checks count again. Reason given: {waiver.reason}"
        )


def test_a_node_down_reads_as_before():
    node = Obj(hostname="w-1&", role="worker", state="down")
    transition = Obj(to_state="down", at=AT)
    item = notice("node_down", "n", {"cluster": CLUSTER, "node": node, "transition": transition})
    assert item.title == f"Node {node.hostname} is {node.state}"
    assert item.body == (
        f"Node {node.hostname} ({node.role}) of {CLUSTER.name} went {transition.to_state} "
        f"at {transition.at:%Y-%m-%d %H:%M:%S} UTC, outside a maintenance window."
    )
