"""Publishing the pipeline: a Celery chain of the stage tasks, by name, one queue per stage.

Used by the gateway (new jobs) and by operators' re-queue and the reconciler (from a given stage).
Signatures are immutable: every stage task receives only the job id.
"""

from __future__ import annotations

from celery import Celery, chain

from shared.contracts.names import QUEUES, STAGES, TASK_NAMES, Stage

# Fail fast when the broker is down: the job is already committed and will be re-published.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def publish_pipeline(app: Celery, *, job_id: str, from_stage: Stage = Stage.DETECT) -> None:
    """Send the chain ``from_stage → … → normalise`` for ``job_id``."""
    stages = STAGES[STAGES.index(from_stage) :]
    signatures = [
        app.signature(TASK_NAMES[stage], args=(job_id,), immutable=True, queue=QUEUES[stage]) for stage in stages
    ]
    chain(*signatures).apply_async(retry=True, retry_policy=PUBLISH_RETRY_POLICY)
