"""The HTTP gateway: accepts documents, stores them durably, queues the pipeline, answers status queries."""

from __future__ import annotations

from services.gateway.app import create_app

__all__ = ["create_app"]
