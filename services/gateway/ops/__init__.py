"""The operations page (``/ops``): a server-rendered view of the pipeline with the operator actions."""

from __future__ import annotations

from services.gateway.ops.views import bp

__all__ = ["bp"]
