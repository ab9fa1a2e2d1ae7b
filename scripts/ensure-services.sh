#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer for the tests: start them when installed but stopped.
set -u
db_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/watchkeeper}
redis_url=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
hostport() { # URL -> host port
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  echo "${rest%%:*} ${rest##*:}"
}
up() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
read -r pg_host pg_port < <(hostport "$db_url")
read -r r_host r_port < <(hostport "$redis_url")
if ! up "$pg_host" "$pg_port"; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL…"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -1)" main start || true
  fi
  for _ in $(seq 1 50); do up "$pg_host" "$pg_port" && break; sleep 0.2; done
  up "$pg_host" "$pg_port" || {
    echo "PostgreSQL does not answer on $pg_host:$pg_port and could not be started." >&2
    echo "Install and start it, or point TEST_DATABASE_URL at one (postgres://USER@HOST:PORT/NAME)." >&2
    exit 1; }
fi
if ! up "$r_host" "$r_port"; then
  if command -v redis-server >/dev/null; then
    echo "Starting Redis…"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$r_port" --save "" \
      --appendonly no --dir /tmp --logfile /tmp/watchkeeper-test-redis.log || true
  fi
  for _ in $(seq 1 50); do up "$r_host" "$r_port" && break; sleep 0.2; done
  up "$r_host" "$r_port" || {
    echo "Redis does not answer on $r_host:$r_port and could not be started." >&2
    echo "Install and start it, or point TEST_REDIS_URL at one (redis://HOST:PORT/DB)." >&2
    exit 1; }
fi
