"""Per-cluster thresholds with the defaults of the spec, and their validation. Pure code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

TIER_ORDER = ("small", "medium", "large", "x-large")
GIB = 1024**3


class PolicyError(ValueError):
    """A policy that cannot be saved; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{key}: {value}" for key, value in errors.items()))


def default_tiers() -> dict[str, dict[str, float]]:
    return {
        "medium": {"cpus": 2, "memory_gb": 4},
        "large": {"cpus": 2, "memory_gb": 8},
        "x-large": {"cpus": 4, "memory_gb": 16},
    }


@dataclass(frozen=True)
class Policy:
    """Thresholds the rules read. Defaults are those of the readiness spec."""

    tiers: dict[str, dict[str, float]] = field(default_factory=default_tiers)
    memory_tolerance: float = 0.9  # a "4 GB" VM reports about 3.8 GiB
    manager_min_tier: str = "medium"
    worker_min_tier: str = "medium"
    # registries: any private registry host, plus these Docker Hub prefixes
    allow_private_registries: bool = True
    allowed_registries: list[str] = field(default_factory=lambda: ["docker.io/library/"])
    reservation_max_percent: int = 80
    memory_floor_mib: int = 128
    flapping_max_failures: int = 3  # failing when this many failed/rejected tasks in an hour
    control_plane_min_nodes: int = 6
    cert_expiry_max_days: int = 90
    window_min_minutes: int = 15
    window_max_minutes: int = 90
    reboot_interval_days: int = 8
    backup_interval_days: int = 90
    # The node label naming a manager's failure domain (zone, rack, ...); "" = not checked.
    failure_domain_label: str = "zone"
    join_token_max_age_days: int = 180
    # A node seen down (not "unknown") by every good poll for this long, or the cluster
    # unreachable (every poll failing) for this long, is notified (dashboard.pipeline).
    down_grace_minutes: int = 2

    def tier_of(self, cpus: float, memory_bytes: int) -> str:
        """The largest tier whose vCPU and (tolerant) memory minimums the node meets."""
        best = "small"
        for name in TIER_ORDER[1:]:
            need = self.tiers[name]
            memory_ok = memory_bytes >= need["memory_gb"] * GIB * self.memory_tolerance
            if cpus >= need["cpus"] and memory_ok:
                best = name
        return best

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _int_between(data: dict, key: str, low: int, high: int, errors: dict) -> None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[key] = f"must be a whole number between {low} and {high}"


def policy_from_dict(data: dict | None) -> Policy:
    """A validated Policy from stored or submitted data; missing keys take the defaults."""
    defaults = Policy().to_dict()
    data = dict(data or {})
    unknown = sorted(set(data) - set(defaults))
    errors: dict[str, str] = {key: "unknown setting" for key in unknown}
    merged = {**defaults, **{k: v for k, v in data.items() if k in defaults}}

    tiers = merged["tiers"]
    if not isinstance(tiers, dict) or set(tiers) != set(TIER_ORDER[1:]):
        errors["tiers"] = "must define medium, large and x-large"
    else:
        previous = (0.0, 0.0)
        for name in TIER_ORDER[1:]:
            tier = tiers[name]
            try:
                cpus, memory = float(tier["cpus"]), float(tier["memory_gb"])
            except (TypeError, KeyError, ValueError):
                errors["tiers"] = f"{name} needs numeric cpus and memory_gb"
                break
            if cpus <= 0 or memory <= 0 or cpus < previous[0] or memory < previous[1]:
                errors["tiers"] = "tiers must be positive and grow from medium to x-large"
                break
            previous = (cpus, memory)
    tolerance = merged["memory_tolerance"]
    if not isinstance(tolerance, int | float) or not 0.5 <= tolerance <= 1:
        errors["memory_tolerance"] = "must be between 0.5 and 1"
    for key in ("manager_min_tier", "worker_min_tier"):
        if merged[key] not in TIER_ORDER:
            errors[key] = f"must be one of {', '.join(TIER_ORDER)}"
    if not isinstance(merged["allow_private_registries"], bool):
        errors["allow_private_registries"] = "must be true or false"
    registries = merged["allowed_registries"]
    if not isinstance(registries, list) or not all(
        isinstance(item, str) and item.strip() and " " not in item for item in registries
    ):
        errors["allowed_registries"] = "must be a list of registry or namespace prefixes"
    _int_between(merged, "reservation_max_percent", 10, 100, errors)
    _int_between(merged, "memory_floor_mib", 4, 65536, errors)
    _int_between(merged, "flapping_max_failures", 1, 100, errors)
    _int_between(merged, "control_plane_min_nodes", 3, 1000, errors)
    _int_between(merged, "cert_expiry_max_days", 1, 3650, errors)
    _int_between(merged, "window_min_minutes", 1, 1440, errors)
    _int_between(merged, "window_max_minutes", 1, 1440, errors)
    if "window_min_minutes" not in errors and "window_max_minutes" not in errors:
        if merged["window_min_minutes"] > merged["window_max_minutes"]:
            errors["window_max_minutes"] = "must not be below window_min_minutes"
    _int_between(merged, "reboot_interval_days", 1, 60, errors)
    _int_between(merged, "backup_interval_days", 30, 90, errors)
    label = merged["failure_domain_label"]
    if not isinstance(label, str) or len(label) > 128 or any(c in label for c in " =!\t\n"):
        errors["failure_domain_label"] = "must be a node label name (no spaces, = or !), or empty"
    _int_between(merged, "join_token_max_age_days", 1, 3650, errors)
    _int_between(merged, "down_grace_minutes", 1, 60, errors)
    if errors:
        raise PolicyError(errors)
    return Policy(**merged)
