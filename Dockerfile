# syntax=docker/dockerfile:1
# aureond container image: build a wheel in one stage, install it into a clean slim
# runtime in the next. Operations guide: docs/operations.md ("Container").
#
#   docker build -t aureond .
#   docker run -d --name aureond --stop-timeout 20 -v aureond-data:/var/lib/aureond aureond
#
# The base is pinned to a Python minor version and a Debian release. For reproducible
# builds pin its digest too (python:3.11-slim-bookworm@sha256:...) in your pipeline.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: wheels for aureond and every dependency -----------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY aureond ./aureond
RUN python -m pip wheel --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed non-root UID/GID so volume ownership is predictable (chown bind mounts to it).
RUN groupadd --system --gid 10001 aureond \
 && useradd --system --uid 10001 --gid aureond --no-create-home \
        --home-dir /var/lib/aureond --shell /usr/sbin/nologin aureond \
 && install -d -o aureond -g aureond -m 0700 /var/lib/aureond

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-index --find-links=/wheels /wheels/aureond-*.whl

COPY --chmod=0644 config/aureond.toml /etc/aureond/aureond.toml

# Headers, peer records and bans. The store heals a torn tail itself after a crash.
VOLUME ["/var/lib/aureond"]
WORKDIR /var/lib/aureond
USER 10001:10001

# The API listens on 127.0.0.1:8787 inside the container by default, so nothing is
# reachable from outside until you opt in: set AUREOND_HTTP__LISTEN=0.0.0.0:8787 and
# mount a token file (AUREOND_HTTP__TOKEN_FILE), which a non-loopback bind requires.
EXPOSE 8787

# Liveness from inside the container's own network namespace (slim has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8787/health/live', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# SIGTERM drains within shutdown_timeout (10 s): give `docker stop` 20 s (--stop-timeout).
STOPSIGNAL SIGTERM
ENTRYPOINT ["aureond", "run", "--config", "/etc/aureond/aureond.toml"]
