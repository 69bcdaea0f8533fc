"""OCR worker: the Celery app serving the ``ocr`` queue.

Run: ``OMP_THREAD_LIMIT=1 celery -A services.ocr.worker:celery_app worker --queues ocr --concurrency 1``.
"""

from __future__ import annotations

from services.ocr import pipeline
from shared.contracts.names import Stage
from shared.worker import make_worker_app

celery_app = make_worker_app(service="ocr", stage=Stage.OCR, compute=pipeline.run, warm_up=pipeline.warm_up)
