"""Tagger worker: the Celery app serving the ``tag`` queue.

Run: ``celery -A services.tagger.worker:celery_app worker --queues tag --concurrency 1``.
"""

from __future__ import annotations

from services.tagger import pipeline
from shared.contracts.names import Stage
from shared.worker import make_worker_app

celery_app = make_worker_app(service="tagger", stage=Stage.TAG, compute=pipeline.run, warm_up=pipeline.warm_up)
