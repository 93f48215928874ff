# The reverse mentoring worker as a container job.
# Config is read from a mounted directory (/config); settings come from MENTORING_* variables.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MENTORING_CONFIG_DIR=/config \
    MENTORING_TEMPLATES_DIR=/app/templates

WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY graph ./graph
COPY templates ./templates
COPY config /config
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin mentoring

USER 10001
ENTRYPOINT ["mentoring"]
CMD ["run"]
