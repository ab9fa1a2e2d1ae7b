"""What a rule may know besides the snapshot and the policy. Pure data, no Django."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from readiness.facts import OperationsFacts

PRODUCTION = "production"
STAGING = "staging"
DEVELOPMENT = "development"
ENVIRONMENTS = (PRODUCTION, STAGING, DEVELOPMENT)


@dataclass(frozen=True)
class Endpoint:
    """How Watchkeeper reaches the cluster's Docker API."""

    scheme: str  # unix | ssh | tcp | http | https | npipe
    tls: bool = False
    client_cert: bool = False
    verify: bool = False

    @classmethod
    def from_url(cls, url: str, *, has_credentials: bool) -> Endpoint:
        """Endpoint facts from a cluster URL: stored credentials mean TLS client material."""
        scheme = (urlsplit(url).scheme or "unix").lower()
        secured = has_credentials and scheme in {"tcp", "https"}
        return cls(scheme=scheme, tls=secured, client_cert=secured, verify=secured)


@dataclass(frozen=True)
class RuleContext:
    """The moment and the surroundings of an evaluation.

    runtime=False is the Compose lint: there are no tasks, nodes or statuses, so rules
    that need them are not applicable.
    """

    now: datetime
    environment: str = PRODUCTION
    cluster_name: str = "cluster"
    endpoint: Endpoint | None = None
    operations: OperationsFacts | None = None
    runtime: bool = True
