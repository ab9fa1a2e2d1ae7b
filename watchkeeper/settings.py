"""Watchkeeper settings: one module, driven by the environment (see README, "Configuration").

With no configuration at all this is the embedded default: SQLite and a broker
that needs no server, both under var/, and email written to var/outbox/.
"""

import ipaddress
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from . import env
from . import sso as _sso

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.get("WATCHKEEPER_VAR_DIR") or BASE_DIR / "var").resolve()

DATABASE_URL = env.get("DATABASE_URL")
REDIS_URL = env.get("REDIS_URL")
EMBEDDED = not DATABASE_URL

DEBUG = env.get_bool("DEBUG", False)
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", [])

# --- secrets ---------------------------------------------------------------
SECRET_KEY = env.get("SECRET_KEY")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DATABASE_URL is set (production); "
            "set SECRET_KEY or SECRET_KEY_FILE to a long random string."
        )
    SECRET_KEY = env.persistent_secret(VAR_DIR / "secret_key", env.new_secret_key)


def _encryption_keys() -> list[str]:
    """Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation)."""
    keys = env.get_list("WATCHKEEPER_ENCRYPTION_KEYS", [])
    if not keys:
        if not EMBEDDED:
            raise ImproperlyConfigured(
                "WATCHKEEPER_ENCRYPTION_KEYS is required when DATABASE_URL is set; generate one "
                "with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )
        keys = [
            env.persistent_secret(
                VAR_DIR / "encryption_key", lambda: Fernet.generate_key().decode()
            )
        ]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"WATCHKEEPER_ENCRYPTION_KEYS: key {position} is not a Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return keys


WATCHKEEPER_ENCRYPTION_KEYS = _encryption_keys()

# --- applications ----------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # its templates and static files: the API docs page loads no CDN asset
    "accounts",
    "accounts.sso",
    "audit",
    "clusters",
    "readiness",
    "maintenance",
    "dashboard",
    "api",
]

MIDDLEWARE = [
    "watchkeeper.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "audit.middleware.AuditActorMiddleware",
]

ROOT_URLCONF = "watchkeeper.urls"
WSGI_APPLICATION = "watchkeeper.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "accounts.sso.context_processors.sign_in",
            ],
        },
    }
]

# --- database --------------------------------------------------------------


def _database() -> dict:
    """DATABASES['default'] from DATABASE_URL (PostgreSQL) or SQLite under var/."""
    if EMBEDDED:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "watchkeeper.sqlite3",
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    try:
        config = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(
            "DATABASE_URL must be postgres://USER:PASSWORD@HOST:PORT/NAME (or sqlite:///PATH); "
            f"got a URL for {engine or 'an unknown engine'}."
        )
    if engine == "django.db.backends.postgresql" and not config.get("NAME"):
        raise ImproperlyConfigured("DATABASE_URL names no database (…/NAME at the end).")
    password = env.get("DATABASE_PASSWORD")
    if password:
        config["PASSWORD"] = password
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, Celery ---------------------------------------------------------
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL must start with redis://, rediss:// or unix://; got {REDIS_URL.split(':')[0]}:…"
    )

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "wk",
            # A Redis that does not answer must not hang pages: they work without the cache.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

CELERY_BROKER_URL = REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Audit events older than this are purged by clusters.tasks.prune_history (audit.services.purge).
WATCHKEEPER_AUDIT_RETENTION_DAYS = int(env.get("WATCHKEEPER_AUDIT_RETENTION_DAYS") or 400)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "enqueue-due-polls": {"task": "dashboard.tasks.enqueue_due_polls", "schedule": 10.0},
    "maintenance-tick": {"task": "maintenance.tasks.tick", "schedule": 60.0},
    "weekly-digests": {"task": "dashboard.tasks.weekly_digests", "schedule": 60.0},
    "expire-waivers": {"task": "dashboard.tasks.expire_waivers", "schedule": 300.0},
    "prune-poll-history": {"task": "clusters.tasks.prune_history", "schedule": 3600.0},
    "prune-evaluations": {"task": "readiness.tasks.prune_history", "schedule": 3600.0},
}

# --- email -----------------------------------------------------------------
# The variables keep Django's classic names (EMAIL_HOST, ...); they configure MAILERS.
_email_host = env.get("EMAIL_HOST") or ""
_email_tls = env.get_bool("EMAIL_USE_TLS", False)
_email_ssl = env.get_bool("EMAIL_USE_SSL", False)
if _email_tls and _email_ssl:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true.")
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL") or "watchkeeper@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_OUTBOX_DIR = VAR_DIR / "outbox"
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env.get_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
                "username": env.get("EMAIL_HOST_USER") or "",
                "password": env.get("EMAIL_HOST_PASSWORD") or "",
                "use_tls": _email_tls,
                "use_ssl": _email_ssl,
                "timeout": env.get_int("EMAIL_TIMEOUT", 20, minimum=1, maximum=600),
            },
        }
    }
else:
    env.get_int("EMAIL_PORT", 25, minimum=1, maximum=65535)  # still validated
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(EMAIL_OUTBOX_DIR)},
        }
    }

# --- accounts and security -------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- single sign-on (OpenID Connect; README "Single sign-on") --------------
WATCHKEEPER_OIDC = _sso.from_environ()
WATCHKEEPER_LOCAL_LOGIN = _sso.local_login_from_environ(WATCHKEEPER_OIDC)
AUTHENTICATION_BACKENDS = _sso.authentication_backends(
    local_login=WATCHKEEPER_LOCAL_LOGIN, sso=WATCHKEEPER_OIDC is not None
)
# mozilla-django-oidc reads these; endpoints come from discovery (accounts/sso/discovery.py).
OIDC_RP_SCOPES = WATCHKEEPER_OIDC.scopes if WATCHKEEPER_OIDC else "openid"
OIDC_AUTHENTICATION_CALLBACK_URL = "sso:callback"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
OIDC_STORE_ACCESS_TOKEN = OIDC_STORE_ID_TOKEN = False

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
LOGIN_FAILURE_LIMIT = env.get_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_LOCKOUT_SECONDS = env.get_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1, maximum=86400)

WATCHKEEPER_HTTPS = env.get_bool("WATCHKEEPER_HTTPS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if WATCHKEEPER_HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env.get_bool("WATCHKEEPER_BEHIND_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- i18n, time, static ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.get("STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOG_LEVEL = (env.get("LOG_LEVEL") or "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- Watchkeeper -----------------------------------------------------------
WATCHKEEPER_DEFAULT_POLL_INTERVAL = env.get_int(
    "WATCHKEEPER_POLL_INTERVAL", 60, minimum=5, maximum=86400
)
# History: every poll's detail for a while, then one snapshot and evaluation per day.
WATCHKEEPER_DETAIL_HOURS = env.get_int("WATCHKEEPER_DETAIL_HOURS", 48, minimum=1, maximum=24 * 90)
WATCHKEEPER_HISTORY_DAYS = env.get_int("WATCHKEEPER_HISTORY_DAYS", 400, minimum=1, maximum=3660)
WATCHKEEPER_POLL_RUN_DAYS = env.get_int("WATCHKEEPER_POLL_RUN_DAYS", 30, minimum=1, maximum=3660)
WATCHKEEPER_BASE_URL = (env.get("WATCHKEEPER_BASE_URL") or "http://127.0.0.1:8000").rstrip("/")

# --- REST API and metrics ---------------------------------------------------------------------
WATCHKEEPER_API_RATE_LIMIT = env.get_int(
    "WATCHKEEPER_API_RATE_LIMIT", 600, minimum=1, maximum=1_000_000
)  # requests per minute per API token
WATCHKEEPER_METRICS_TOKEN = env.get("WATCHKEEPER_METRICS_TOKEN") or ""
WATCHKEEPER_METRICS_ALLOW = env.get_list("WATCHKEEPER_METRICS_ALLOW", [])
for _entry in WATCHKEEPER_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"WATCHKEEPER_METRICS_ALLOW: {_entry!r} is not an address or network "
            "(e.g. 10.0.0.0/8, 127.0.0.1)."
        ) from None
