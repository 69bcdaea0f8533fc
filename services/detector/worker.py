"""Detector worker: the Celery app serving the ``detect`` queue.

Run: ``celery -A services.detector.worker:celery_app worker --queues detect --concurrency 1``.
"""

from __future__ import annotations

from services.detector import pipeline
from shared.contracts.names import Stage
from shared.worker import make_worker_app

celery_app = make_worker_app(service="detector", stage=Stage.DETECT, compute=pipeline.run, warm_up=pipeline.warm_up)
