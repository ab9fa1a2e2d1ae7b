"""Read a Compose / stack file into snapshot Services for the lint. Pure code, no Django.

Only ``yaml.safe_load`` is used: anchors, aliases and merge keys work, ``x-`` extensions are
ignored, custom tags are refused, nothing in the file is ever executed. ``${VAR}`` references
are left as they are and reported as notes (a number or size that is one ``${VAR:-default}``
is read as its default); environment values are only looked at to set the
secret flags and are never kept.
"""

from __future__ import annotations

import re
from datetime import datetime

import yaml

from clusters.envscan import holds_private_key, is_literal, secret_like_name
from clusters.snapshot import (
    EnvVar,
    Mount,
    Network,
    Service,
    Snapshot,
    SwarmInfo,
    UpdatePolicy,
    network_volume,
)

_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
# A whole value that is one variable: ${NAME}, ${NAME:-default} or ${NAME-default}.
_ONE_VARIABLE = re.compile(r"^\s*\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}\s*$")
_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2}
_UNITS |= {"g": 1024**3, "gb": 1024**3, "t": 1024**4, "tb": 1024**4}
_RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


class ComposeError(ValueError):
    """The file cannot be linted; the message says where and why."""


# Hostile files (issue 19 item 3): a Compose file is a few KiB; a "billion laughs" file is
# small but expands to billions of nodes through aliases. Both bounds are checked before
# anything walks the expanded data, so the refusal takes milliseconds.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXPANDED_NODES = 100_000


def expanded_size(node, limit: int) -> int:
    """Nodes visited walking NODE with every alias expanded; stops once past LIMIT."""
    count = 0
    stack = [node]
    while stack:
        current = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                stack.append(key_node)
                stack.append(value_node)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return count


def _line_of(node, path: list[str]) -> int | None:
    """1-based line of the value at PATH in a composed YAML node tree."""
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            return None
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == key:
                node = value_node
                break
        else:
            return None
    return node.start_mark.line + 1


def _defaulted(value, where: str):
    """VALUE, or the default of the one variable it is (what docker substitutes when the
    variable is unset): a number or size is read from the file, never from the environment."""
    match = _ONE_VARIABLE.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    if match.group(2) is None:
        raise ComposeError(
            f"{where}: ${{{match.group(1)}}} has no default; write "
            f"${{{match.group(1)}:-<value>}} so the file can be linted"
        )
    default = match.group(3)
    return int(default) if default.isdigit() else default


def parse_size(value, where: str) -> int:
    """Bytes from a Compose size (512M, 1g, 1.5GB, 1048576, ${VAR:-512M})."""
    value = _defaulted(value, where)
    if isinstance(value, bool):
        raise ComposeError(f"{where}: {value!r} is not a size")
    if isinstance(value, int | float):
        return int(value)
    match = _SIZE.match(str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ComposeError(f"{where}: {value!r} is not a size such as 512M or 1G")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_cpus(value, where: str) -> float:
    value = _defaulted(value, where)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ComposeError(f"{where}: {value!r} is not a number of CPUs") from None


def _variables(data, path: str, found: dict[str, str]) -> None:
    """Collect unresolved ${VAR} references: variable -> first place it appears."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and key.startswith("x-"):
                continue
            _variables(value, f"{path}.{key}" if path else str(key), found)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _variables(value, f"{path}[{index}]", found)
    elif isinstance(data, str):
        for match in _VARIABLE.finditer(data):
            name = (match.group(1) or match.group(2)).split(":", 1)[0].split("?", 1)[0]
            name = name.split("-", 1)[0]
            found.setdefault(name, path)


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ComposeError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _labels(value, where: str) -> dict[str, str]:
    if isinstance(value, list):
        pairs = (str(item).partition("=") for item in value)
        return {key: val for key, _, val in pairs}
    return {str(k): "" if v is None else str(v) for k, v in _mapping(value, where).items()}


def _env(value, where: str) -> list[EnvVar]:
    if isinstance(value, list):
        items = []
        for entry in value:
            name, sep, raw = str(entry).partition("=")
            items.append((name, raw if sep else None))
    else:
        items = [(str(k), None if v is None else str(v)) for k, v in _mapping(value, where).items()]
    return [
        EnvVar(
            name=name,
            secret_like=secret_like_name(name),
            literal=is_literal(raw),  # ${VAR} is interpolated into a literal at deploy time
            private_key=holds_private_key(raw),
        )
        for name, raw in items
    ]


def _mounts(value, top_volumes: dict, where: str) -> list[Mount]:
    mounts = []
    for entry in value or []:
        if isinstance(entry, dict):
            kind = str(entry.get("type", "volume"))
            source = str(entry.get("source") or "")
            target = str(entry.get("target") or "")
            read_only = bool(entry.get("read_only", False))
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                kind, source, target, read_only = "volume", "", parts[0], False
            else:
                source, target = parts[0], parts[1]
                read_only = len(parts) > 2 and "ro" in parts[2].split(",")
                bind = "/" in source or source.startswith((".", "~", "$"))
                kind = "bind" if bind else "volume"
        driver, network = None, False
        if kind == "volume" and source:
            declared = top_volumes.get(source) or {}
            declared = declared if isinstance(declared, dict) else {}
            driver = declared.get("driver")
            opts = declared.get("driver_opts")
            network = network_volume(opts if isinstance(opts, dict) else None)
        mounts.append(Mount(kind, source, target, read_only, driver, network))
    return mounts


def _healthcheck(value) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return None
    if value.get("disable"):
        return ["NONE"]
    test = value.get("test")
    if test is None:
        return None
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(part) for part in test]


def _ports(value) -> tuple[list[int], list[int]]:
    """(published ports, those published in host mode) of a service's `ports:`; the short
    syntax (`8080:80`, `127.0.0.1:8080:80/tcp`) publishes through the routing mesh."""
    published, host = set(), set()
    for entry in value or []:
        if isinstance(entry, dict):
            port, mode = entry.get("published"), str(entry.get("mode") or "ingress")
        else:
            parts = str(entry).split("/", 1)[0].split(":")
            port, mode = (parts[-2] if len(parts) > 1 else None), "ingress"
        port = str(port).split("-", 1)[0] if port is not None else ""
        if port.isdigit():
            published.add(int(port))
            if mode == "host":
                host.add(int(port))
    return sorted(published), sorted(host)


def _names(value) -> list[str]:
    if isinstance(value, dict):
        return [str(key) for key in value]
    result = []
    for item in value or []:
        result.append(str(item.get("source")) if isinstance(item, dict) else str(item))
    return result


def _service(name: str, spec: dict, top_volumes: dict) -> Service:
    where = f"services.{name}"
    deploy = _mapping(spec.get("deploy"), f"{where}.deploy")
    resources = _mapping(deploy.get("resources"), f"{where}.deploy.resources")
    limits = _mapping(resources.get("limits"), f"{where}.deploy.resources.limits")
    reservations = _mapping(resources.get("reservations"), f"{where}.deploy.resources.reservations")
    memory_limit = limits.get("memory", spec.get("mem_limit"))
    memory_reservation = reservations.get("memory", spec.get("mem_reservation"))
    cpu_limit = limits.get("cpus", spec.get("cpus"))
    cpu_reservation = reservations.get("cpus")
    mode = str(deploy.get("mode", "replicated"))
    replicas = (
        _defaulted(deploy.get("replicas", 1), f"{where}.deploy.replicas")
        if mode == "replicated"
        else None
    )
    if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int)):
        raise ComposeError(f"{where}.deploy.replicas: {replicas!r} is not a whole number")
    update = _mapping(deploy.get("update_config"), f"{where}.deploy.update_config")
    restart = _mapping(deploy.get("restart_policy"), f"{where}.deploy.restart_policy")
    condition = restart.get("condition") or _RESTART.get(str(spec.get("restart", "")))
    placement = _mapping(deploy.get("placement"), f"{where}.deploy.placement")
    logging = _mapping(spec.get("logging"), f"{where}.logging")
    image = spec.get("image") or ""
    published, host_ports = _ports(spec.get("ports"))
    rollback = _mapping(deploy.get("rollback_config"), f"{where}.deploy.rollback_config")
    return Service(
        id=name,
        name=name,
        image=str(image),
        mode=mode,
        replicas=replicas,
        desired_tasks=replicas or 0,
        labels=_labels(deploy.get("labels"), f"{where}.deploy.labels"),
        container_labels=_labels(spec.get("labels"), f"{where}.labels"),
        constraints=[str(c) for c in placement.get("constraints") or []],
        memory_limit=None
        if memory_limit is None
        else parse_size(memory_limit, f"{where} memory limit"),
        memory_reservation=None
        if memory_reservation is None
        else parse_size(memory_reservation, f"{where} memory reservation"),
        cpu_limit=None if cpu_limit is None else parse_cpus(cpu_limit, f"{where} cpus"),
        cpu_reservation=None
        if cpu_reservation is None
        else parse_cpus(cpu_reservation, f"{where} cpus reservation"),
        healthcheck=_healthcheck(spec.get("healthcheck")),
        env=_env(spec.get("environment"), f"{where}.environment"),
        mounts=_mounts(spec.get("volumes"), top_volumes, f"{where}.volumes"),
        cap_add=[str(cap) for cap in spec.get("cap_add") or []],
        update_config=UpdatePolicy(
            parallelism=update.get("parallelism"),
            failure_action=update.get("failure_action"),
            order=update.get("order"),
        )
        if update
        else None,
        rollback_config=UpdatePolicy(
            parallelism=rollback.get("parallelism"),
            failure_action=rollback.get("failure_action"),
            order=rollback.get("order"),
        )
        if rollback
        else None,
        restart_condition=condition,
        networks=_names(spec.get("networks")),
        log_driver=logging.get("driver"),
        secrets=_names(spec.get("secrets")),
        configs=_names(spec.get("configs")),
        published_ports=published,
        host_ports=host_ports,
    )


def _networks(top: dict) -> list[Network]:
    networks = []
    for name, spec in top.items():
        spec = spec if isinstance(spec, dict) else {}
        options = spec.get("driver_opts") or {}
        networks.append(
            Network(
                id=str(name),
                name=str(name),
                driver=str(spec.get("driver", "overlay")),
                scope="swarm",
                encrypted="encrypted" in options,
                attachable=bool(spec.get("attachable", False)),
            )
        )
    return networks


def compose_tree(text: str, *, filename: str, max_bytes: int = MAX_FILE_BYTES):
    """The file's YAML node tree (None when empty), refused when too big or too expanding."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise ComposeError(
            f"{filename}: {size} bytes is over the {max_bytes}-byte limit for a Compose file "
            "(raise it with --max-bytes if the file is genuine)"
        )
    tree = yaml.compose(text, Loader=yaml.SafeLoader)
    if tree is not None and expanded_size(tree, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
        raise ComposeError(
            f"{filename}: its anchors and aliases expand to more than {MAX_EXPANDED_NODES} "
            "YAML nodes (a 'billion laughs' file?): refused"
        )
    return tree


def load_compose(
    text: str, *, filename: str, now: datetime, max_bytes: int = MAX_FILE_BYTES
) -> tuple[Snapshot, list[str]]:
    """A snapshot holding the file's services, and notes about what was left unresolved."""
    try:
        tree = compose_tree(text, filename=filename, max_bytes=max_bytes)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"{filename}: {where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{filename}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ComposeError(f"{filename}: line 1: a Compose file is a mapping with `services:`")
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        line = _line_of(tree, ["services"]) or 1
        raise ComposeError(f"{filename}: line {line}: `services:` must map names to services")
    top_volumes = data.get("volumes") if isinstance(data.get("volumes"), dict) else {}
    result = []
    for name, spec in services.items():
        line = _line_of(tree, ["services", str(name)])
        if not isinstance(spec, dict):
            raise ComposeError(
                f"{filename}: line {line}: service {name!r} must be a mapping of options"
            )
        try:
            result.append(_service(str(name), spec, top_volumes))
        except ComposeError as exc:
            raise ComposeError(f"{filename}: line {line}: {exc}") from None
    found: dict[str, str] = {}
    _variables(data, "", found)
    notes = [
        f"${{{variable}}} in {path} is left unresolved (docker substitutes it at deploy time)"
        for variable, path in sorted(found.items())
    ]
    for service in result:
        if not service.image:
            notes.append(f"service {service.name} has no image (build only): image rules skip it")
    networks = _networks(_mapping(data.get("networks"), "networks"))
    snapshot = Snapshot(taken_at=now, swarm=SwarmInfo(), services=result, networks=networks)
    return snapshot, notes
