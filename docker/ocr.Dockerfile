# syntax=docker/dockerfile:1
# rxlab ocr: the Celery worker of the `ocr` queue (role `ocr`: one process, prefetch 1).
# Tesseract (Debian's tesseract-ocr + English data, the same 5.3 as the bookworm dev and CI machines).
#
#   docker build -f docker/ocr.Dockerfile -t rxlab/ocr .      (from the repository root)
#
# Same shape as every rxlab image (docker/README.md): wheels built from the pinned requirements/ocr.txt in a
# builder stage, installed with the project into /opt/venv, copied onto a clean python:3.11-slim; uid 10001;
# read-only root filesystem friendly (writes only to volumes and /tmp).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
# tesserocr is compiled here against Debian's libtesseract (the runtime stage's tesseract-ocr brings the library);
# every other requirement is a wheel from PyPI.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc g++ libc6-dev pkg-config libtesseract-dev libleptonica-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/ocr.txt requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --only-binary=:all: --no-binary=tesserocr --no-deps --wheel-dir /wheels -r requirements/ocr.txt
COPY pyproject.toml README.md LICENSE ./
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels/project . \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps --find-links /wheels -r requirements/ocr.txt \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/project/*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rxlab-ocr" \
      org.opencontainers.image.description="rxlab ocr worker (ocr queue)" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
# Tesseract from Debian: libtesseract for tesserocr (the worker reads in-process), the `tesseract` binary for
# pytesseract (the engine's version, the -cli engine), which writes its temporary files to /tmp.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 rxlab \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin rxlab \
    && mkdir -p /app/models /var/lib/rxlab/blobs \
    && chown 10001:10001 /var/lib/rxlab/blobs
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/rxlab-entrypoint
ENV PATH="/opt/venv/bin:${PATH}" \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    RXLAB_ENV=production \
    RXLAB_BLOB_ROOT=/var/lib/rxlab/blobs \
    RXLAB_MODELS_DIR=/app/models \
    OMP_THREAD_LIMIT=1
WORKDIR /app
USER 10001:10001
# `celery inspect ping` imports the worker module: about 3 s of CPU, so not too often.
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/rxlab-entrypoint", "healthcheck", "ocr"]
ENTRYPOINT ["/usr/local/bin/rxlab-entrypoint"]
CMD ["ocr"]
