"""Step timers for the preprocess → infer → postprocess shape of every ML stage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from shared.contracts.stages import StageTimings

STEPS = ("preprocess", "infer", "postprocess")


class StepTimer:
    """Accumulates wall-clock milliseconds per step."""

    def __init__(self) -> None:
        self._ms = dict.fromkeys(STEPS, 0.0)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name not in self._ms:
            raise ValueError(f"unknown step {name!r}; expected one of {STEPS}")
        started = time.perf_counter()
        try:
            yield
        finally:
            self._ms[name] += (time.perf_counter() - started) * 1000.0

    def timings(self) -> StageTimings:
        return StageTimings(
            preprocess_ms=round(self._ms["preprocess"], 3),
            infer_ms=round(self._ms["infer"], 3),
            postprocess_ms=round(self._ms["postprocess"], 3),
        )
