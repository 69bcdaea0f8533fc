#!/bin/sh
# The one entrypoint of every rxlab image: `rxlab-entrypoint ROLE [ARGS...]`.
#
# Roles (extra ARGS are passed to the command the role runs):
#   gateway                       gunicorn serving services.gateway.wsgi:app (GUNICORN_* variables tune it)
#   detector | ocr | tagger | normaliser
#                                 the Celery worker of that service, on its one queue, one process, prefetch 1
#   migrate                       apply the Alembic migrations to RXLAB_DATABASE_URL, then exit
#   reconciler                    re-publish jobs whose stage stopped moving, every 15 s, until stopped
#   vocab                         build the vocabulary index (RXLAB_VOCAB_DIR -> RXLAB_VOCAB_INDEX), then exit
#   cli ARGS                      any `python -m services.cli` command (jobs list, jobs requeue, ...)
#   healthcheck ROLE [PATH]       exit 0 when ROLE is healthy in this container (used by compose and k8s probes):
#                                   gateway: GET http://127.0.0.1:$PORT$PATH answers 200 (PATH default /healthz)
#                                   a worker: `celery inspect ping` gets a reply from ROLE@$HOSTNAME
#                                   reconciler: the database and the broker answer
#   help                          this text
# Anything else is executed as a command (`... rxlab-entrypoint python -c 'print(1)'`).
#
# Every role `exec`s its process, so it is PID 1 and receives SIGTERM itself (Celery: warm shutdown; gunicorn:
# graceful stop). Writable paths are volumes or /tmp only: the images run with a read-only root filesystem.
set -eu

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

# The queue each worker serves: one service = one queue (shared/contracts/names.py QUEUES).
worker_queue() {
    case "$1" in
        detector) echo detect ;;
        ocr) echo ocr ;;
        tagger) echo tag ;;
        normaliser) echo normalise ;;
        *) return 1 ;;
    esac
}

# The host part of the Celery node name: what `%h` expands to in the worker (socket.gethostname()).
node_host() {
    if [ -n "${HOSTNAME:-}" ]; then
        printf '%s\n' "$HOSTNAME"
    else
        python -c 'import socket; print(socket.gethostname())'
    fi
}

healthcheck() {
    target="${1:-}"
    case "$target" in
        gateway)
            path="${2:-/healthz}"
            bind="${GUNICORN_BIND:-0.0.0.0:8000}"
            port="${bind##*:}"
            case "$port" in '' | *[!0-9]*) port=8000 ;; esac
            exec python -c '
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    sys.exit(0 if response.status == 200 else 1)
' "http://127.0.0.1:${port}${path}"
            ;;
        detector | ocr | tagger | normaliser)
            node="${target}@$(node_host)"
            timeout="${RXLAB_PING_TIMEOUT:-10}"
            if [ -n "${RXLAB_BROKER_URL:-}" ]; then
                # The same ping through the broker without `-A services.<name>.worker:celery_app`: importing the
                # worker's pipeline costs ~2.6 s of CPU a probe, this ~1.1 s (measured), on 2-core nodes.
                export CELERY_BROKER_URL="$RXLAB_BROKER_URL"
                exec celery inspect ping -d "$node" --timeout "$timeout"
            fi
            exec celery -A "services.${target}.worker:celery_app" inspect ping -d "$node" --timeout "$timeout"
            ;;
        reconciler)
            exec python -c '
from kombu import Connection
from sqlalchemy import text
from shared.db.session import make_engine
from shared.settings import get_settings

settings = get_settings()
engine = make_engine(settings.database_url)
try:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
finally:
    engine.dispose()
with Connection(settings.broker_url, connect_timeout=5) as broker:
    broker.ensure_connection(max_retries=1)
'
            ;;
        *)
            echo "healthcheck: unknown role '${target}' (gateway, detector, ocr, tagger, normaliser, reconciler)" >&2
            exit 2
            ;;
    esac
}

role="${1:-help}"
[ "$#" -gt 0 ] && shift

case "$role" in
    gateway)
        # The config is imported from the installed package (python:MODULE), so it needs no source tree.
        exec gunicorn --config python:services.gateway.gunicorn_conf "$@" services.gateway.wsgi:app
        ;;
    detector | ocr | tagger | normaliser)
        queue="$(worker_queue "$role")"
        exec celery -A "services.${role}.worker:celery_app" worker \
            --queues "$queue" --concurrency 1 --prefetch-multiplier 1 --hostname "${role}@%h" "$@"
        ;;
    migrate)
        exec python -m services.cli db upgrade "$@"
        ;;
    reconciler)
        exec python -m services.cli reconcile --loop "$@"
        ;;
    vocab)
        exec python -m services.cli vocab build "$@"
        ;;
    cli)
        exec python -m services.cli "$@"
        ;;
    healthcheck)
        healthcheck "$@"
        ;;
    help | -h | --help)
        usage
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
