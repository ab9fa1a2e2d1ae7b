"""Single sign-on configuration from the environment: parsed once at start by settings, every
mistake a clear error. Plain parsing: no models, no network (discovery happens at the first
sign-in, in accounts.sso.discovery).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from . import env

ROLE_NAMES = ("viewer", "operator", "admin")  # accounts.roles.ROLES, without importing models
RANK = {name: position for position, name in enumerate(ROLE_NAMES, start=1)}
DEFAULT_SCOPES = "openid email profile"
MAPPING_VARIABLE = "WATCHKEEPER_OIDC_GROUP_ROLES"
GLOBAL = "global"  # GROUP=global:admin: the global admin role (every team)
DEFAULT_TEAM = "default"  # accounts.models.DEFAULT_TEAM: GROUP=viewer means default:viewer


@dataclass(frozen=True)
class GroupRule:
    """One entry of the mapping: members of GROUP get ROLE in TEAM; TEAM None with ROLE admin
    is the global admin role."""

    group: str
    role: str
    team: str | None = None


@dataclass(frozen=True)
class OIDCConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    rules: tuple[GroupRule, ...]
    provider_name: str


def parse_group_roles(raw: str, *, allow_teams: bool = True) -> tuple[GroupRule, ...]:
    """Parse `group=team:role, group=global:admin, group=role, ...` (commas or newlines
    between entries).

    The group is everything before the LAST `=` (so `cn=ops,...`-style names are not
    supported, but `a=b=operator` maps group `a=b`); the right side is `team:role`,
    `global:admin` (the global admin role), or a bare role: `admin` is the global admin role,
    `viewer` and `operator` are that role in the default team.
    """
    rules: list[GroupRule] = []
    seen: set[str] = set()
    entries = [part.strip() for line in raw.splitlines() for part in line.split(",")]
    for position, entry in enumerate([entry for entry in entries if entry], start=1):
        group, equals, target = entry.rpartition("=")
        group, target = group.strip(), target.strip()
        if not equals or not group or not target:
            raise ImproperlyConfigured(
                f"{MAPPING_VARIABLE}: entry {position} ({entry!r}) is not GROUP=ROLE or "
                "GROUP=TEAM:ROLE, e.g. ops-admins=admin,ops=operator,staff=viewer."
            )
        team, colon, role = target.rpartition(":")
        team, role = team.strip(), role.strip()
        if colon and not team:
            raise ImproperlyConfigured(
                f"{MAPPING_VARIABLE}: entry {position} ({entry!r}) names an empty team."
            )
        if role not in ROLE_NAMES:
            raise ImproperlyConfigured(
                f"{MAPPING_VARIABLE}: entry {position} ({entry!r}) has unknown role {role!r}; "
                f"use one of {', '.join(ROLE_NAMES)}."
            )
        if team == GLOBAL:
            if role != "admin":
                raise ImproperlyConfigured(
                    f"{MAPPING_VARIABLE}: entry {position} ({entry!r}): only admin is a global "
                    f"role; give viewer and operator in a team (GROUP=TEAM:{role})."
                )
            team = ""
        elif not team and role != "admin":
            team = DEFAULT_TEAM
        if team and team != DEFAULT_TEAM and not allow_teams:
            raise ImproperlyConfigured(
                f"{MAPPING_VARIABLE}: entry {position} ({entry!r}) names team {team!r}, but "
                "this version has global roles only; write GROUP=ROLE."
            )
        key = f"{group}\0{team}"
        if key in seen:
            raise ImproperlyConfigured(
                f"{MAPPING_VARIABLE}: group {group!r} is mapped twice"
                + (f" for team {team!r}" if team else "")
                + "; keep one entry."
            )
        seen.add(key)
        rules.append(GroupRule(group=group, role=role, team=team or None))
    return tuple(rules)


def role_for_groups(groups, rules) -> str | None:
    """The highest role any of GROUPS maps to, globally or in any team; None when no group is
    mapped."""
    names = set(groups)
    roles = [rule.role for rule in rules if rule.group in names]
    return max(roles, key=RANK.__getitem__, default=None)


def roles_for_groups(groups, rules) -> tuple[bool, dict[str, str]]:
    """(global admin?, {team name: the highest role any of GROUPS maps to in that team})."""
    names = set(groups)
    admin, teams = False, {}
    for rule in rules:
        if rule.group not in names:
            continue
        if rule.team is None:
            admin = True
        elif RANK[rule.role] > RANK.get(teams.get(rule.team), 0):
            teams[rule.team] = rule.role
    return admin, teams


def groups_from_claims(claims: dict, claim: str) -> list[str]:
    """The groups claim as a list of names (a lone string counts as one group)."""
    value = claims.get(claim)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value if isinstance(item, str | int)]
    return []


def from_environ(environ=None) -> OIDCConfig | None:
    """The SSO configuration, or None when WATCHKEEPER_OIDC_ISSUER is not set."""
    issuer = (env.get("WATCHKEEPER_OIDC_ISSUER", None, environ) or "").strip().rstrip("/")
    if not issuer:
        for name in ("WATCHKEEPER_OIDC_CLIENT_ID", MAPPING_VARIABLE):
            if (env.get(name, None, environ) or "").strip():
                raise ImproperlyConfigured(
                    f"{name} is set but WATCHKEEPER_OIDC_ISSUER is not; set the issuer URL "
                    "(e.g. https://login.example.com/realms/ops) or remove the OIDC settings."
                )
        return None
    parts = urlsplit(issuer)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"WATCHKEEPER_OIDC_ISSUER={issuer!r} is not an http(s) URL; discovery reads "
            "ISSUER/.well-known/openid-configuration."
        )
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ImproperlyConfigured(
            f"WATCHKEEPER_OIDC_ISSUER={issuer!r} must use https (plain http only on loopback)."
        )
    client_id = (env.get("WATCHKEEPER_OIDC_CLIENT_ID", None, environ) or "").strip()
    if not client_id:
        raise ImproperlyConfigured(
            "WATCHKEEPER_OIDC_ISSUER is set but WATCHKEEPER_OIDC_CLIENT_ID is not; set the "
            "client id registered for Watchkeeper at the provider."
        )
    client_secret = (env.get("WATCHKEEPER_OIDC_CLIENT_SECRET", None, environ) or "").strip()
    if not client_secret:
        raise ImproperlyConfigured(
            "WATCHKEEPER_OIDC_ISSUER is set but no client secret is: set "
            "WATCHKEEPER_OIDC_CLIENT_SECRET_FILE (a file holding it) or "
            "WATCHKEEPER_OIDC_CLIENT_SECRET."
        )
    scopes = " ".join(
        (env.get("WATCHKEEPER_OIDC_SCOPES", None, environ) or DEFAULT_SCOPES)
        .replace(",", " ")
        .split()
    )
    if "openid" not in scopes.split():
        raise ImproperlyConfigured(
            f"WATCHKEEPER_OIDC_SCOPES={scopes!r} must include openid (OpenID Connect)."
        )
    groups_claim = (env.get("WATCHKEEPER_OIDC_GROUPS_CLAIM", None, environ) or "groups").strip()
    rules = parse_group_roles(env.get(MAPPING_VARIABLE, "", environ) or "")
    provider_name = (
        env.get("WATCHKEEPER_OIDC_PROVIDER_NAME", None, environ) or ""
    ).strip() or parts.hostname
    return OIDCConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes,
        groups_claim=groups_claim,
        rules=rules,
        provider_name=provider_name,
    )


def local_login_from_environ(sso: OIDCConfig | None, environ=None) -> bool:
    """WATCHKEEPER_LOCAL_LOGIN (default true); turning it off needs SSO configured."""
    local = env.get_bool("WATCHKEEPER_LOCAL_LOGIN", True, environ)
    if not local and sso is None:
        raise ImproperlyConfigured(
            "WATCHKEEPER_LOCAL_LOGIN=false needs single sign-on (WATCHKEEPER_OIDC_ISSUER): "
            "otherwise nobody could sign in."
        )
    return local


def authentication_backends(*, local_login: bool, sso: bool) -> list[str]:
    """Password backend only when local login is on; the OIDC backend only with SSO."""
    backends = []
    if local_login:
        backends.append("django.contrib.auth.backends.ModelBackend")
    if sso:
        backends.append("accounts.sso.backend.WatchkeeperOIDCBackend")
    return backends
