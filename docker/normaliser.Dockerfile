# syntax=docker/dockerfile:1
# rxlab normaliser: the Celery worker of the `normalise` queue (role `normaliser`: one process, prefetch 1).
# Maps what was read to RxNorm, LOINC and UCUM. Its vocabulary index is built at start from RXLAB_VOCAB_DIR
# (a read-only volume) into RXLAB_VOCAB_INDEX (a writable volume) by the `vocab` role of this image.
#
#   docker build -f docker/normaliser.Dockerfile -t rxlab/normaliser .      (from the repository root)
#
# Same shape as every rxlab image (docker/README.md): wheels built from the pinned requirements/normaliser.txt in a
# builder stage, installed with the project into /opt/venv, copied onto a clean python:3.11-slim; uid 10001;
# read-only root filesystem friendly (writes only to volumes and /tmp).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements/normaliser.txt requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --only-binary=:all: --no-deps --wheel-dir /wheels -r requirements/normaliser.txt
COPY pyproject.toml README.md LICENSE ./
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels/project . \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps --find-links /wheels -r requirements/normaliser.txt \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/project/*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rxlab-normaliser" \
      org.opencontainers.image.description="rxlab normaliser worker (normalise queue)" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
RUN groupadd --gid 10001 rxlab \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin rxlab \
    && mkdir -p /app/models /var/lib/rxlab/blobs /var/lib/rxlab/vocab /var/lib/rxlab/vocab-index \
    && chown 10001:10001 /var/lib/rxlab/blobs /var/lib/rxlab/vocab-index
COPY --from=builder /opt/venv /opt/venv
# The match calibration (models/normaliser/calibration.json, written by `make calibrate`); the bracket makes the
# pattern a wildcard, as in the tagger image.
COPY models/normalise[r] /app/models/normaliser/
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/rxlab-entrypoint
ENV PATH="/opt/venv/bin:${PATH}" \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    RXLAB_ENV=production \
    RXLAB_BLOB_ROOT=/var/lib/rxlab/blobs \
    RXLAB_MODELS_DIR=/app/models \
    RXLAB_VOCAB_DIR=/var/lib/rxlab/vocab \
    RXLAB_VOCAB_INDEX=/var/lib/rxlab/vocab-index/vocab.sqlite3
WORKDIR /app
USER 10001:10001
# `celery inspect ping` imports the worker module: about 3 s of CPU, so not too often.
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/rxlab-entrypoint", "healthcheck", "normaliser"]
ENTRYPOINT ["/usr/local/bin/rxlab-entrypoint"]
CMD ["normaliser"]
