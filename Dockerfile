# Ghillie runtime image, built from a Ghillie checkout.
#
# Build context: this Dockerfile and docker/ live in gitops-local, while the
# sources live in a Ghillie checkout. `gitops-local up --app-src DIR` streams
# one combined context to the Docker Engine: from DIR it takes pyproject.toml,
# README.md and ghillie/; from this repository, Dockerfile and docker/
# (package bootstrap/image, function Context). It is tagged ghillie:local.
# To build by hand, copy the same files into one directory and build that
# (see docker/README.md):
#
#   ctx="$(mktemp -d)"
#   cp -R "$GHILLIE"/pyproject.toml "$GHILLIE"/README.md "$GHILLIE"/ghillie "$ctx"/
#   cp -R Dockerfile docker "$ctx"/
#   docker build -t ghillie:local "$ctx"
#
# Base images are pinned to an exact patch release and Debian codename. They
# are pinned by tag only, not by digest: no digest here was checked against
# the registry, and a wrong one would fail every build. Bump both stages
# together.
#
# Only instructions the classic builder also understands are used (no
# RUN --mount, no COPY --chmod), so the image builds with or without BuildKit.

# =============================================================================
# build: make wheels for Ghillie and every dependency it needs at run time.
# =============================================================================
FROM python:3.14.6-slim-trixie AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Ghillie depends on femtologging through a git URL, and femtologging is a Rust
# extension built with maturin: building its wheel needs git, a C toolchain
# and cargo. These stay in this stage; the runtime stage gets only wheels.
# Debian package versions are not pinned: the archive drops old versions, so
# pins would break the build rather than make it reproducible.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential \
        cargo \
        git \
        pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

COPY pyproject.toml README.md /build/
COPY ghillie /build/ghillie

# Wheels for Ghillie and its whole dependency closure land in /wheels.
RUN pip wheel --wheel-dir /wheels .

# =============================================================================
# runtime: a slim image with the wheels installed and no build tools.
# =============================================================================
FROM python:3.14.6-slim-trixie AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GHILLIE_HOST=0.0.0.0 \
    GHILLIE_PORT=8080 \
    GHILLIE_LOG_LEVEL=INFO

COPY --from=build /wheels /wheels
COPY docker/entrypoint.sh /usr/local/bin/ghillie-entrypoint

# Install exactly the wheels the build stage made, offline and without
# resolving again: the git URL of femtologging would otherwise make pip try
# to clone it here, where there is no git. `pip check` then proves the set is
# complete and consistent.
RUN groupadd --gid 1000 ghillie \
    && useradd --uid 1000 --gid 1000 --create-home --shell /usr/sbin/nologin ghillie \
    && pip install --no-cache-dir --no-index --no-deps /wheels/*.whl \
    && pip check \
    && rm -rf /wheels \
    && chmod 0755 /usr/local/bin/ghillie-entrypoint

WORKDIR /app

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading
# /etc/passwd; it is the ghillie user and group created above.
USER 1000:1000

EXPOSE 8080

# Slim images have no curl: probe /health with the standard library. An HTTP
# error or a refused connection raises, so the probe exits non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GHILLIE_PORT', '8080') + '/health', timeout=4)"]

ENTRYPOINT ["ghillie-entrypoint"]
CMD ["python", "-m", "ghillie.runtime"]
