# syntax=docker/dockerfile:1
# rxlab gateway: the Flask API under gunicorn (role `gateway`, port 8000).
# The same image runs the `migrate`, `reconciler` and `cli` roles: they need only requirements/base.in, which
# requirements/gateway.txt contains, and no ML dependency.
#
#   docker build -f docker/gateway.Dockerfile -t rxlab/gateway .      (from the repository root)
#
# Every image follows one shape (see docker/README.md): a builder stage turns the pinned requirements into wheels
# (binary only: a new dependency without a wheel fails here, loudly, instead of pulling a compiler into the
# build) and installs them and the project into /opt/venv; the runtime stage copies that venv onto a clean
# python:3.11-slim, runs as uid 10001 and writes only to volumes and /tmp.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements/gateway.txt requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --only-binary=:all: --no-deps --wheel-dir /wheels -r requirements/gateway.txt
COPY pyproject.toml README.md LICENSE ./
COPY shared/ shared/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --no-deps --wheel-dir /wheels/project . \
    && python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --no-index --no-deps --find-links /wheels -r requirements/gateway.txt \
    && pip --python /opt/venv/bin/python install --no-index --no-deps /wheels/project/*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="rxlab-gateway" \
      org.opencontainers.image.description="rxlab HTTP gateway (also the migrate and reconciler roles)" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
# HOME=/tmp (set below too): the only writable place besides the volumes; gunicorn keeps its control socket there.
RUN groupadd --gid 10001 rxlab \
    && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin rxlab \
    && mkdir -p /app /var/lib/rxlab/blobs \
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
    GUNICORN_BIND=0.0.0.0:8000 \
    GUNICORN_WORKERS=2
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/rxlab-entrypoint", "healthcheck", "gateway"]
ENTRYPOINT ["/usr/local/bin/rxlab-entrypoint"]
CMD ["gateway"]
