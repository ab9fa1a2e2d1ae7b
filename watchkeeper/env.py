"""Environment parsing for settings: every bad value is a clear ImproperlyConfigured error."""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def get(name: str, default: str | None = None, environ=None) -> str | None:
    """Return NAME from the environment, or the content of the file named by NAME_FILE."""
    environ = os.environ if environ is None else environ
    if name in environ:
        return environ[name]
    file_name = environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE points to {file_name!r}, which cannot be read: {exc.strerror}"
            ) from exc
    return default


def get_bool(name: str, default: bool = False, environ=None) -> bool:
    """Parse a boolean such as true/false, 1/0, yes/no, on/off."""
    raw = get(name, None, environ)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of true, false, 1, 0, yes, no, on, off."
    )


def get_int(
    name: str, default: int, environ=None, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Parse an integer, optionally bounded."""
    raw = get(name, None, environ)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} must be between {minimum} and {maximum}.")
    return value


def get_list(name: str, default: list[str], environ=None) -> list[str]:
    """Parse a comma-separated list, ignoring blanks."""
    raw = get(name, None, environ)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def persistent_secret(path: Path, make) -> str:
    """Read a generated secret kept under var/, creating it (mode 600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def new_secret_key() -> str:
    """A new random Django SECRET_KEY."""
    return secrets.token_urlsafe(50)
