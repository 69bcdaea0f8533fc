# syntax=docker/dockerfile:1
# rxlab tagger: the Celery worker of the `tag` queue (role `tagger`: one process, prefetch 1).
# Entity tagging with the ONNX model + tokenizer shipped in models/tagger/ (no hub access at run time).
#
#   docker build -f docker/tagger.Dockerfile -t rxlab/tagger .      (from the repository root)
#
# Same shape as every rxlab image (docker/README.md): wheels built from the pinned requirements/tagger.txt in a
# builder stage, installed with the project into /opt/venv, copied onto a clean python:3.11-slim; uid 10001;
# read-only root filesystem friendly (writes only to volumes and /tmp).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements/tagger.txt requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --only-binary=:all: --no-deps --wheel-dir /wheels -r requirements/tagger.txt
COPY pyproject.toml README.md LICENSE ./
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels/project . \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps --find-links /wheels -r requirements/tagger.txt \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/project/*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rxlab-tagger" \
      org.opencontainers.image.description="rxlab tagger worker (tag queue)" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
RUN groupadd --gid 10001 rxlab \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin rxlab \
    && mkdir -p /app/models /var/lib/rxlab/blobs \
    && chown 10001:10001 /var/lib/rxlab/blobs
COPY --from=builder /opt/venv /opt/venv
# The shipped model files (models/tagger/). The bracket makes the pattern a wildcard, which BuildKit lets
# match nothing: the image still builds while the interim method needs no model file.
COPY models/tagge[r] /app/models/tagger/
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/rxlab-entrypoint
ENV PATH="/opt/venv/bin:${PATH}" \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    RXLAB_ENV=production \
    RXLAB_BLOB_ROOT=/var/lib/rxlab/blobs \
    RXLAB_MODELS_DIR=/app/models \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    TOKENIZERS_PARALLELISM=false
WORKDIR /app
USER 10001:10001
# `celery inspect ping` imports the worker module: about 3 s of CPU, so not too often.
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/rxlab-entrypoint", "healthcheck", "tagger"]
ENTRYPOINT ["/usr/local/bin/rxlab-entrypoint"]
CMD ["tagger"]
