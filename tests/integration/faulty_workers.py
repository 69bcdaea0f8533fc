"""Stage worker apps for the fault-injection suite: the real stage code, with two test hooks around it.

- ``RXLAB_TEST_STAGE_DELAY`` seconds of sleep before each stage computes, so that a test can kill a worker process
  while a stage is in progress (the real stages take milliseconds on the interim detector and tagger);
- a poison trigger: while the file named by ``RXLAB_TEST_POISON_FLAG`` exists, a document whose bytes contain
  :data:`POISON_MARKER` makes the worker process exit abruptly, as a crashing native decoder would. Deleting the file
  is the operator's "fix".

Run as ``celery -A tests.integration.faulty_workers:detector worker --queues detect`` (likewise ``ocr``,
``tagger``, ``normaliser``); each app registers the production task names and serves the production queues.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery
from pydantic import BaseModel

from services.detector import pipeline as detect_pipeline
from services.normaliser import pipeline as normalise_pipeline
from services.normaliser.repository import write_records
from services.ocr import pipeline as ocr_pipeline
from services.tagger import pipeline as tag_pipeline
from shared.contracts.names import Stage
from shared.stage_runner import ComputeFn, StageInput
from shared.worker import make_worker_app

POISON_MARKER = b"rxlab-test-poison"


def faulty(compute: ComputeFn) -> ComputeFn:
    """``compute`` behind the delay and the poison trigger."""

    def run(stage_input: StageInput) -> BaseModel:
        time.sleep(float(os.environ.get("RXLAB_TEST_STAGE_DELAY", "0")))
        flag = os.environ.get("RXLAB_TEST_POISON_FLAG")
        if flag and Path(flag).exists() and POISON_MARKER in stage_input.original:
            os._exit(70)
        return compute(stage_input)

    return run


_STAGES = {
    "detector": (Stage.DETECT, detect_pipeline.run, detect_pipeline.warm_up),
    "ocr": (Stage.OCR, ocr_pipeline.run, ocr_pipeline.warm_up),
    "tagger": (Stage.TAG, tag_pipeline.run, tag_pipeline.warm_up),
    "normaliser": (Stage.NORMALISE, normalise_pipeline.run, normalise_pipeline.warm_up),
}
#: ``celery -A`` targets; each app is created on first access, so a worker process sets up only its own stage.
APPS = {service: f"{__name__}:{service}" for service in _STAGES}


def __getattr__(service: str) -> Celery:
    if service not in _STAGES:
        raise AttributeError(service)
    stage, compute, warm_up = _STAGES[service]
    app = make_worker_app(
        service=service,
        stage=stage,
        compute=faulty(compute),
        warm_up=warm_up,
        finalize=write_records if stage is Stage.NORMALISE else None,
    )
    globals()[service] = app
    return app
