"""Task and queue names: the only coupling between the gateway and the workers.

The gateway sends tasks by these names (``send_task``) and never imports worker code.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Pipeline stages in execution order; each is one service, one queue and one Deployment."""

    DETECT = "detect"
    OCR = "ocr"
    TAG = "tag"
    NORMALISE = "normalise"


STAGES: tuple[Stage, ...] = (Stage.DETECT, Stage.OCR, Stage.TAG, Stage.NORMALISE)

TASK_DETECT = "rxlab.detect"
TASK_OCR = "rxlab.ocr"
TASK_TAG = "rxlab.tag"
TASK_NORMALISE = "rxlab.normalise"

TASK_NAMES: dict[Stage, str] = {
    Stage.DETECT: TASK_DETECT,
    Stage.OCR: TASK_OCR,
    Stage.TAG: TASK_TAG,
    Stage.NORMALISE: TASK_NORMALISE,
}

# One queue per stage, named after it.
QUEUES: dict[Stage, str] = {stage: stage.value for stage in STAGES}


def next_stage(stage: Stage) -> Stage | None:
    """Return the stage after ``stage``, or None after the last one."""
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None
