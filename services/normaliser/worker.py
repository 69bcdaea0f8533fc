"""Normaliser worker: the Celery app serving the ``normalise`` queue; its final transaction writes the records.

Run: ``celery -A services.normaliser.worker:celery_app worker --queues normalise --concurrency 1``.
"""

from __future__ import annotations

from services.normaliser import pipeline
from services.normaliser.repository import write_records
from shared.contracts.names import Stage
from shared.worker import make_worker_app

celery_app = make_worker_app(
    service="normaliser",
    stage=Stage.NORMALISE,
    compute=pipeline.run,
    warm_up=pipeline.warm_up,
    finalize=write_records,
)
