# The reverse mentoring worker as a container job.
# Config is read from a mounted directory (/config, read-only); settings come from MENTORING_*
# variables. The image holds no config: without the mount the job stops at start (exit 2).
#
# The base is pinned by version. To pin it by digest as well (the same bytes on every build):
#   docker buildx imagetools inspect python:3.12.8-slim-bookworm   # prints "Digest: sha256:..."
# and build with --build-arg PYTHON_IMAGE=python:3.12.8-slim-bookworm@sha256:<that digest>.
ARG PYTHON_IMAGE=python:3.12.8-slim-bookworm
FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="reverse-mentoring-worker" \
      org.opencontainers.image.description="Books, tracks and nudges reverse mentoring sessions in Microsoft 365" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MENTORING_CONFIG_DIR=/config \
    MENTORING_TEMPLATES_DIR=/app/templates

WORKDIR /app

# 1. Dependencies, in their own layer: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 2. The worker itself (no dependency is resolved again).
COPY README.md ./
COPY graph ./graph
COPY worker ./worker
COPY templates ./templates
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mentoring

USER 10001
ENTRYPOINT ["mentoring"]
CMD ["run"]
