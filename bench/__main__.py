"""`make bench [BENCH=quick|tiny]`: every part of the bench against a PostgreSQL bench database.

Parts (in this order): swarm (one big swarm polled), pages (cluster, findings and fleet pages),
fleet (a fleet polled by two worker processes) and history (that fleet after 400 days of
retained history). Each has `run(size) -> list[Figure]`. The figures are printed as a table and
written to var/bench/latest.json (a list of {name, value, unit, target, met}) and a timestamped
copy. Arguments: a size (full, quick, tiny; default full) and part names to run only those.
BENCH_DATABASE_URL overrides the database (default: watchkeeper_bench; every table is emptied
at the start), BENCH_OUT_DIR the output directory.
"""

import importlib
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/watchkeeper_bench"
PARTS = ("swarm", "pages", "fleet", "history")


def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist."""
    import psycopg2  # deferred: only the bench needs a server-level connection

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
    import django  # deferred: after the environment above

    django.setup()
    from django.core.management import call_command  # deferred: after django.setup

    call_command("migrate", "--no-input", verbosity=0)
    reset()


def reset() -> None:
    """Empty every table of the bench database (it holds nothing but bench rows)."""
    from django.db import connection  # deferred: after django.setup

    tables = connection.introspection.django_table_names(only_existing=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


def main(argv: list[str]) -> int:
    from bench import figures  # deferred: sys.path is set in __main__
    from bench.sizes import SIZES  # deferred: as above

    os.chdir(BASE_DIR)
    sizes = [a for a in argv if a in SIZES]
    wanted = [a for a in argv if a in PARTS]
    unknown = [a for a in argv if a not in SIZES and a not in PARTS]
    if unknown or len(sizes) > 1:
        print(f"usage: python -m bench [{'|'.join(SIZES)}] [{' '.join(PARTS)}]", file=sys.stderr)
        return 2
    size = SIZES[sizes[0] if sizes else "full"]
    setup()
    found: list[figures.Figure] = []
    started = time.perf_counter()
    for part in PARTS:
        if wanted and part not in wanted:
            continue
        clock = time.perf_counter()
        print(f"bench {size.name}: {part} ...", flush=True)
        module = importlib.import_module(f"bench.{part}")
        found += module.run(size)
        print(f"bench {size.name}: {part} took {time.perf_counter() - clock:.0f} s", flush=True)
    found.append(figures.Figure("bench.duration", round(time.perf_counter() - started), "s"))
    out_dir = Path(os.environ.get("BENCH_OUT_DIR") or BASE_DIR / "var" / "bench")
    path = figures.write(found, out_dir, size.name)
    print(f"\n== make bench ({size.name}) ==")
    print(figures.table(found))
    print(f"\nwritten: {out_dir / 'latest.json'}, {path}")
    return 1 if any(f.met is False for f in found) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(BASE_DIR))
    sys.exit(main(sys.argv[1:]))
