"""Loaded with `-p tests.envdefaults` before Django: point the suite at real PostgreSQL and Redis.

TEST_DATABASE_URL and TEST_REDIS_URL change where; a developer's own DATABASE_URL or
REDIS_URL is never used by the tests.
"""

import os
import tempfile

os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/watchkeeper"
)
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["SECRET_KEY"] = "test-only-secret-key-" + "x" * 40
os.environ["WATCHKEEPER_ENCRYPTION_KEYS"] = "ZCRDmYsWUiV9PUXd_TFH004sV1qqQ5w0QeB_nVkx2lg="
os.environ.setdefault("WATCHKEEPER_VAR_DIR", tempfile.mkdtemp(prefix="watchkeeper-test-var-"))
for name in ("EMAIL_HOST", "DEBUG", "WATCHKEEPER_HTTPS", "ALLOWED_HOSTS"):
    os.environ.pop(name, None)
os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
