"""`manage.py team` and `cluster list --user/--team`; every change audited as via cli."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Membership, Team
from audit.models import AuditEvent
from clusters.models import Cluster
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_adds_a_team_sets_and_removes_members_and_lists_them(django_user_model):
    make_user(django_user_model, "sam", None)
    assert run("team", "add", "blue") == "added team blue\n"
    assert run("team", "member", "blue", "sam", "operator") == "sam is operator in blue\n"
    assert "blue: sam (operator)" in run("team", "list")
    assert run("team", "member", "blue", "sam", "remove") == "sam is no longer in blue\n"
    assert not Membership.objects.filter(team__name="blue").exists()
    assert AuditEvent.objects.filter(action="team.member", via="cli").count() == 2
    assert run("team", "remove", "blue") == "removed team blue\n"
    assert not Team.objects.filter(name="blue").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("team", "add", "bad name"), "letters, digits"),
        (("team", "member", "nope", "sam", "viewer"), "no team named 'nope'"),
        (("team", "member", "default", "nobody", "viewer"), "no user named 'nobody'"),
        (("team", "remove", "default"), "owns clusters"),
    ],
)
def test_it_refuses_bad_input_with_a_clear_message(args, message, django_user_model):
    Cluster.objects.create(name="lab", url="unix:///x.sock")  # in the default team
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert Team.objects.filter(name="default").exists()


def test_cluster_add_takes_a_team_and_list_shows_what_a_user_may_see(django_user_model):
    run("team", "add", "blue")
    run("cluster", "add", "bee", "--url", "unix:///x.sock", "--team", "blue")
    run("cluster", "add", "ant", "--url", "unix:///y.sock")
    assert Cluster.objects.get(name="bee").team.name == "blue"
    assert Cluster.objects.get(name="ant").team.name == "default"
    make_user(django_user_model, "vera", "viewer")  # viewer in the default team
    seen = json.loads(run("cluster", "list", "--format", "json", "--user", "vera"))
    assert [(c["name"], c["team"]) for c in seen] == [("ant", "default")]
    blue = json.loads(run("cluster", "list", "--format", "json", "--team", "blue"))
    assert [c["name"] for c in blue] == ["bee"]
    with pytest.raises(CommandError, match="no team named 'red'"):
        run("cluster", "add", "cow", "--url", "unix:///z.sock", "--team", "red")
    assert not Cluster.objects.filter(name="cow").exists()
