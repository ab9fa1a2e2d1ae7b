"""Built-in checklist templates. Pure data: each step is an offset from the target time (T).

Offsets in days move along the local calendar (same wall-clock time), offsets in hours are
exact time. The wording is ours; the sources are seed 000 (switchover) and seeds 001-003
(go-live, the parts the Docker API cannot observe).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepTemplate:
    key: str
    title: str
    days: int = 0  # negative: before T
    hours: int = 0
    detail: str = ""
    owner: str = ""
    probe: str = ""  # "" | "dns"

    @property
    def offset_label(self) -> str:
        if self.days == 0 and self.hours == 0:
            return "T-0"
        if self.hours == 0:
            return f"T{self.days:+d}d"
        if self.days == 0:
            return f"T{self.hours:+d}h"
        return f"T{self.days:+d}d{self.hours:+d}h"


@dataclass(frozen=True)
class ChecklistTemplate:
    key: str
    title: str
    steps: tuple[StepTemplate, ...]


SWITCHOVER = ChecklistTemplate(
    key="switchover",
    title="Production switchover",
    steps=(
        StepTemplate(
            "restore-test",
            "Restore a database dump from the current environment into the new one",
            days=-7,
            detail="Take a dump where production runs today and prove it restores on the "
            "new cluster before anything is switched.",
        ),
        StepTemplate(
            "user-window",
            "Agree a maintenance window of at least two hours with end users",
            days=-7,
            detail="Tell the people who use the application when it may be unavailable.",
        ),
        StepTemplate(
            "dns-a-record",
            "Point the DNS A record at the manager node that ingress is pinned to",
            hours=-48,
            detail="Do it two days ahead so that resolvers have dropped the old address by "
            "the switchover. Watchkeeper resolves the name and checks the addresses and TTL.",
            probe="dns",
        ),
        StepTemplate(
            "notifications",
            "Check that notifications are on and the incident contacts are known",
            hours=-24,
            detail="At least one recipient gets this cluster's notifications; everyone knows "
            "whom to call during the switchover.",
        ),
        StepTemplate("switch", "Switch over", detail="Move traffic to the new cluster."),
    ),
)

GO_LIVE = ChecklistTemplate(
    key="go-live",
    title="Go-live readiness",
    steps=(
        StepTemplate(
            "one-codebase",
            "Each image is built from a single code repository",
            days=-14,
        ),
        StepTemplate(
            "dependencies",
            "Every dependency is declared in the code and installed by the build",
            days=-14,
        ),
        StepTemplate(
            "config-env",
            "Configuration comes from the environment, not from the image",
            days=-14,
        ),
        StepTemplate(
            "build-run",
            "Building the image and running it are separate steps",
            days=-14,
        ),
        StepTemplate(
            "stateless",
            "Processes keep no state: data lives in a database or an object store",
            days=-14,
        ),
        StepTemplate("tls", "Public endpoints are served over TLS only", days=-7),
        StepTemplate("signup-closed", "Open sign-up is switched off", days=-7),
        StepTemplate(
            "logs-monitoring",
            "Logs and monitoring are shipped off the hosts",
            days=-7,
        ),
        StepTemplate("backups", "Backups are scheduled (and a restore was tested)", days=-7),
        StepTemplate(
            "versioned-definitions",
            "App and stack definitions are kept under version control",
            days=-7,
        ),
    ),
)

TEMPLATES: dict[str, ChecklistTemplate] = {t.key: t for t in (SWITCHOVER, GO_LIVE)}

DNS_TTL_WARNING = 300  # seconds
