"""Readiness truth (issue 13): rule results an experienced Swarm operator would agree with.

Realistic Engine API values run through the pure rule functions; each test failed before its fix.
"""

import pytest

from clusters import normalize
from readiness.compose import load_compose

from .factories import NOW, run, service, snapshot


def svc(**kw):
    return snapshot(services=[service("web", **kw)])


def live_env(*items):
    return svc(env=[normalize.env_var(item) for item in items])


def linted(compose_text):
    snap, _ = load_compose(compose_text, filename="f.yml", now=NOW)
    return snap


# --- item 2: config.secret-in-env ------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        "DB_PASSWORD=$uperS3cret",
        "ADMIN_PASSWORD=$2y$10$abcdefghijklmnopqrstuv",
        "API_TOKEN={{ oops }}",
        "DB_PASSWORD=pw-{{.Task.Slot}}",
        'API_TOKEN={{join "s3cret" .Task.Slot}}',
        "APIKEY=abc",
        "access-key=abc",
    ],
)
def test_it_fails_literal_secrets_that_look_like_references(item):
    assert run("config.secret-in-env", live_env(item)) == [("fail", "web")]


@pytest.mark.parametrize(
    "item",
    [
        "NODE_TOKEN={{.Node.Hostname}}",
        "SECRET_ID={{.Service.Name}}-{{.Task.Slot}}",
        "TOKEN_SLOT={{ .Task.Slot }}",
        'SECRET_OWNER={{index .Service.Labels "owner"}}',
        "SECRET_NAME={{join .Service.Name .Task.Slot}}",
        "DB_PASSWORD=",
        "DB_PASSWORD_FILE=/run/secrets/db",
    ],
)
def test_it_passes_swarm_templates_and_empty_values(item):
    assert run("config.secret-in-env", live_env(item)) == [("pass", "web")]


def test_it_judges_a_name_the_same_way_live_and_in_the_lint():
    compose = "services:\n  web:\n    image: a:1\n    environment:\n      - APIKEY=abc\n"
    assert run("config.secret-in-env", live_env("APIKEY=abc")) == [("fail", "web")]
    assert run("config.secret-in-env", linted(compose)) == [("fail", "web")]


def test_it_fails_a_dollar_value_in_the_lint_too():
    compose = (
        "services:\n  web:\n    image: a:1\n    environment:\n      DB_PASSWORD: $$uperS3cret\n"
    )
    template = (
        "services:\n  web:\n    image: a:1\n    environment:\n      API_TOKEN: '{{.Node.ID}}'\n"
    )
    assert run("config.secret-in-env", linted(compose)) == [("fail", "web")]
    assert run("config.secret-in-env", linted(template)) == [("pass", "web")]
