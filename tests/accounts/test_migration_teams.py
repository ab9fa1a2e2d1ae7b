"""Migrations accounts 0005 and clusters 0005/0006: existing clusters go to the "default"
team, which holds every existing user with their current role."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0004_profile_digest_and_calendar"),
    ("clusters", "0004_cluster_window_notices"),
]
AFTER = [("accounts", "0005_teams"), ("clusters", "0006_team_required")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_clusters_and_users_go_to_the_default_team_with_their_role():
    old = _migrate(BEFORE)
    User, Group = old.get_model("auth", "User"), old.get_model("auth", "Group")
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ("viewer", "operator")}
    User.objects.create(username="root", is_superuser=True, is_staff=True)
    User.objects.create(username="vera").groups.add(groups["viewer"])
    both = User.objects.create(username="otto")
    both.groups.add(groups["viewer"], groups["operator"])
    User.objects.create(username="nemo")
    Cluster = old.get_model("clusters", "Cluster")
    for name in ("prod", "stage"):
        Cluster.objects.create(name=name, url="unix:///x.sock", calendar_token=name * 8)

    new = _migrate(AFTER)
    Team = new.get_model("accounts", "Team")
    assert list(Team.objects.values_list("name", flat=True)) == ["default"]
    default = Team.objects.get()
    roles = dict(
        new.get_model("accounts", "Membership")
        .objects.filter(team=default)
        .values_list("user__username", "role")
    )
    assert roles == {"root": "admin", "vera": "viewer", "otto": "operator"}  # nemo: no role
    clusters = new.get_model("clusters", "Cluster").objects.order_by("name")
    assert [(c.name, c.team_id) for c in clusters] == [("prod", default.pk), ("stage", default.pk)]
    column = [
        c for c in connection.introspection.get_table_description(
            connection.cursor(), "clusters_cluster"
        ) if c.name == "team_id"
    ][0]  # fmt: skip
    assert column.null_ok is False
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
