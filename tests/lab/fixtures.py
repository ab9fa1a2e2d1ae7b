"""pytest plugin for the Swarm lab: load with `pytest_plugins = ["tests.lab.fixtures"]`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

import pytest

from lab import Lab, LabError, NodeSpec, host_support
from lab.teardown import cleanup


def pytest_configure(config: pytest.Config) -> None:
    """Register the `lab` marker."""
    config.addinivalue_line("markers", "lab: needs the Swarm lab (Linux, root, dockerd)")


def in_ci() -> bool:
    """Tell whether we run in CI, where a missing lab is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_lab_host() -> None:
    """Skip (locally) or fail (in CI) when this machine cannot host a lab."""
    reason = host_support()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI must be able to run the Swarm lab: {reason}", pytrace=False)
    pytest.skip(f"Swarm lab unavailable: {reason}")


@pytest.fixture(scope="session")
def lab_host() -> None:
    """Check the machine once and remove labs left behind by crashed earlier runs."""
    require_lab_host()
    cleanup(detached=False)


@pytest.fixture(scope="session")
def swarm_lab(lab_host: None) -> Iterator[Lab]:
    """Session-wide default lab: wk-manager-1 (2 CPU, 4 GiB), wk-worker-1/2 (2/8, 1/2)."""
    lab = Lab()
    try:
        yield lab.up()
    finally:
        lab.down()


@pytest.fixture
def clean_swarm_lab(swarm_lab: Lab) -> Iterator[Lab]:
    """The session lab, with services created and nodes drained by the test undone after it."""
    client = swarm_lab.client()
    before = {s.id for s in client.services.list()}
    try:
        yield swarm_lab
    finally:
        for service in client.services.list():
            if service.id not in before:
                service.remove()
        for hostname in swarm_lab.hostnames:
            if swarm_lab.swarm_node(hostname).attrs["Spec"]["Availability"] != "active":
                swarm_lab.activate(hostname)


@pytest.fixture
def make_lab(lab_host: None) -> Iterator[Callable[..., Lab]]:
    """Factory for labs of other layouts; every lab it made is torn down after the test."""
    labs: list[Lab] = []

    def factory(nodes: Iterable[NodeSpec] | None = None, *, tls: bool = False) -> Lab:
        lab = Lab(nodes, tls=tls)
        labs.append(lab)
        return lab.up()

    try:
        yield factory
    finally:
        errors = []
        for lab in labs:
            try:
                lab.down()
            except LabError as exc:
                errors.append(exc)
        if errors:
            raise LabError(f"lab teardown failed: {errors}")
