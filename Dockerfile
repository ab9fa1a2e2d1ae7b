# syntax=docker/dockerfile:1
# Watchkeeper image: `docker build -t watchkeeper:0.1.0 .`
# Commands: web (default; migrates, then gunicorn), worker, beat, or any command.

FROM python:3.13.1-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

FROM python:3.13.1-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    STATIC_ROOT=/app/static-root \
    WATCHKEEPER_VAR_DIR=/var/lib/watchkeeper
RUN groupadd --system --gid 10001 watchkeeper \
    && useradd --system --uid 10001 --gid watchkeeper --home-dir /app \
       --shell /usr/sbin/nologin watchkeeper
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# Static files are collected at build time; the throw-away key and directory exist only here.
RUN SECRET_KEY=build-only-not-a-secret WATCHKEEPER_VAR_DIR=/tmp/build-var \
       python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build-var \
    && mkdir -p /var/lib/watchkeeper \
    && chown watchkeeper:watchkeeper /var/lib/watchkeeper \
    && chmod 0755 /app/scripts/docker-entrypoint.sh
USER watchkeeper
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz?only=database', timeout=5)"]
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["web"]
