"""Run every benchmark module (bench/bench_*.py) against a PostgreSQL bench database.

Each module has `run() -> dict` returning its results; they are printed and written to
var/bench/<name>.json. BENCH_DATABASE_URL overrides the database.
"""

import importlib
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/watchkeeper_bench"


def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        password=parts.password, dbname="postgres",
    )  # fmt: skip
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def setup() -> None:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
    os.environ.setdefault(
        "WATCHKEEPER_ENCRYPTION_KEYS", "ZCRDmYsWUiV9PUXd_TFH004sV1qqQ5w0QeB_nVkx2lg="
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchkeeper.settings")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def main(argv: list[str]) -> int:
    os.chdir(BASE_DIR)
    sys.path.insert(0, str(BASE_DIR))
    setup()
    wanted = set(argv)
    out_dir = BASE_DIR / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for path in sorted((BASE_DIR / "bench").glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(f"bench.{path.stem}")
        result = module.run()
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2))
        print(f"\n== {name} ==")
        print(module.table(result))
        for target, ok in result.get("targets", {}).items():
            print(f"  {'ok  ' if ok else 'MISS'} {target}")
            failed = failed or not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
