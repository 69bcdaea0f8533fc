"""The patient timeline page: lab trends per LOINC code over time and the medication history."""

from __future__ import annotations

from services.gateway.timeline.views import bp

__all__ = ["bp"]
