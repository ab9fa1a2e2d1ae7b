#!/bin/sh
# Container entry point of the Watchkeeper image: web, worker, beat, or any other command.
set -eu
case "${1:-web}" in
  web)
    # Replicas starting together take turns (a PostgreSQL advisory lock).
    python -m watchkeeper.migrate
    exec gunicorn watchkeeper.wsgi:application --bind 0.0.0.0:8000 \
      --workers "${WEB_CONCURRENCY:-2}" --access-logfile - \
      --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
    ;;
  worker)
    exec celery -A watchkeeper worker --loglevel "${LOG_LEVEL:-INFO}" \
      --concurrency "${WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    exec celery -A watchkeeper beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /var/lib/watchkeeper/celerybeat-schedule
    ;;
  *)
    exec "$@"
    ;;
esac
