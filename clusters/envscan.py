"""The one definition of a secret-looking env var. Pure code, no Django.

Both the live rule (through ``clusters.normalize``) and the Compose lint (``readiness.compose``)
read environment entries through these functions, so `APIKEY=abc` is judged the same way by both.

The Engine never expands ``$VAR`` in a service's env: ``DB_PASSWORD=$uperS3cret`` reaches the
container as written. The only expansion is swarmkit's own template package (Go text/template
over a fixed context: ``.Service.ID/.Name/.Labels``, ``.Node.ID/.Hostname/.Platform.OS``,
``.Node.Platform.Architecture``, ``.Task.ID/.Name/.Slot``, and the function ``join``), so a value
is a reference, not a literal, only when it is made of such template actions (and separators).
"""

from __future__ import annotations

import re

SECRET_NAME = re.compile(
    r"password|passwd|secret|token|bearer|api[_-]?key|access[_-]?key|private[_-]?key",
    re.IGNORECASE,
)
_FIELD = (
    r"\.Service\.(?:ID|Name|Labels\.[A-Za-z0-9_]+)"
    r"|\.Node\.(?:ID|Hostname|Platform\.(?:OS|Architecture))"
    r"|\.Task\.(?:ID|Name|Slot)"
)
# One action of swarmkit's template context: a field, `index .Service.Labels "key"`, or `join`
# over fields (a quoted string inside join would be literal text, so it is not accepted here).
_ACTION = re.compile(
    r"\{\{-?\s*(?:"
    rf"(?:{_FIELD})"
    r'|index\s+\.Service\.Labels\s+"[^"{}]*"'
    rf"|join(?:\s+(?:{_FIELD}))+"
    r")\s*-?\}\}"
)


def secret_like_name(name: str) -> bool:
    """The variable's name says it holds a secret (and it is not a *_FILE pointer)."""
    return bool(SECRET_NAME.search(name)) and not name.upper().endswith("_FILE")


_SEPARATORS = re.compile(r"[\s\-_.:/@]*")


def is_swarm_template(value: str) -> bool:
    """VALUE is made of swarmkit template actions (``{{.Node.Hostname}}`` style), joined at
    most by separators (``{{.Service.Name}}-{{.Task.Slot}}``); any other text is literal."""
    rest, count = _ACTION.subn("", value)
    return count > 0 and _SEPARATORS.fullmatch(rest) is not None


def is_literal(value: str | None) -> bool:
    """A value was set and reaches the container as written (not empty, not a Swarm template).

    ``$`` and ``{{`` on their own prove nothing: a bcrypt hash starts with ``$2y$``.
    """
    return bool(value) and not is_swarm_template(value)


def holds_private_key(value: str | None) -> bool:
    return bool(value) and "PRIVATE KEY-----" in value
