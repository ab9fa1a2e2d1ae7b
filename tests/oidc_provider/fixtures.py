"""pytest fixtures: the test provider as its own process, pointed at by Watchkeeper's settings."""

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENT_ID = "watchkeeper"
CLIENT_SECRET = "watchkeeper-test-secret-0123456789"
START_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Provider:
    issuer: str
    state_file: Path
    initial: dict

    def read(self) -> dict:
        return json.loads(self.state_file.read_text())

    def write(self, data: dict) -> None:
        self.state_file.write_text(json.dumps(data))

    def set_groups(self, username: str, groups: list[str]) -> None:
        data = self.read()
        data["users"][username]["groups"] = groups
        self.write(data)

    def set(self, **changes) -> None:
        data = self.read()
        data.update(changes)
        self.write(data)

    def reset(self) -> None:
        self.write(self.initial)


USERS = {
    "alice": {"groups": ["ops-admins", "staff"]},
    "oscar": {"groups": ["ops"]},
    "victor": {"groups": ["staff", "unrelated"]},
    "nora": {"groups": ["unrelated"]},
}


@pytest.fixture(scope="session")
def oidc_provider(live_server):
    """A running provider whose client `watchkeeper` redirects to the live server."""
    port = _free_port()
    directory = Path(tempfile.mkdtemp(prefix="watchkeeper-oidc-"))
    state = {
        "users": {
            name: {"password": f"op-{name}", "email": f"{name}@example.test", **person}
            for name, person in USERS.items()
        },
        "clients": {
            CLIENT_ID: {
                "secret": CLIENT_SECRET,
                "redirect_uris": [live_server.url + "/accounts/sso/callback/"],
            }
        },
    }
    state_file = directory / "state.json"
    state_file.write_text(json.dumps(state))
    environ = {
        **os.environ,
        "OIDC_PROVIDER_STATE": str(state_file),
        "OIDC_PROVIDER_PORT": str(port),
    }
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"):
        environ.pop(name, None)
    log = (directory / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.oidc_provider.serve"],
        cwd=REPO,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}/o"
    try:
        readable, _, _ = select.select([process.stdout], [], [], START_SECONDS)
        line = process.stdout.readline() if readable else ""
        if line.strip() != "ready":
            log.flush()
            raise RuntimeError(
                "the OIDC test provider did not start:\n" + (directory / "provider.log").read_text()
            )
        yield Provider(issuer=issuer, state_file=state_file, initial=state)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """Watchkeeper configured (through its real parser) for the test provider."""
    from accounts.sso import discovery
    from watchkeeper import sso as config

    oidc_provider.reset()
    discovery.forget()
    settings.WATCHKEEPER_OIDC = config.from_environ(
        {
            "WATCHKEEPER_OIDC_ISSUER": oidc_provider.issuer,
            "WATCHKEEPER_OIDC_CLIENT_ID": CLIENT_ID,
            "WATCHKEEPER_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "WATCHKEEPER_OIDC_SCOPES": "openid email profile groups",
            "WATCHKEEPER_OIDC_GROUP_ROLES": "ops-admins=admin, ops=operator, staff=viewer",
            "WATCHKEEPER_OIDC_PROVIDER_NAME": "Test IdP",
        }
    )
    settings.WATCHKEEPER_LOCAL_LOGIN = True
    settings.AUTHENTICATION_BACKENDS = config.authentication_backends(local_login=True, sso=True)
    yield settings
    oidc_provider.reset()
    discovery.forget()
