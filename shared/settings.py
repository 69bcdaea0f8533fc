"""Typed settings (pydantic-settings), read from ``RXLAB_*`` environment variables.

Nothing reads the environment at import: callers build settings with :func:`get_settings` (cached) or construct
a :class:`Settings` explicitly (tests). Placeholder secrets are refused outside development and test.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_SECRET = "dev-insecure-secret"  # noqa: S105 - the value refused outside development


def _default_vocab_dir() -> Path:
    return REPO_ROOT.parent / "shared" / "vocab"


class StageLimits(BaseModel):
    """Soft and hard time limits (seconds) of one stage task."""

    soft: int
    hard: int


class Settings(BaseSettings):
    """Settings common to every service."""

    model_config = SettingsConfigDict(env_prefix="RXLAB_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'rxlab.sqlite3'}"
    broker_url: str = "redis://127.0.0.1:6379/0"
    blob_root: Path = REPO_ROOT / "var" / "blobs"
    vocab_dir: Path = Field(default_factory=_default_vocab_dir)
    vocab_index: Path = REPO_ROOT / "var" / "vocab.sqlite3"
    models_dir: Path = REPO_ROOT / "models"
    secret_key: str = PLACEHOLDER_SECRET
    log_level: str = "INFO"
    log_json: bool = True

    pipeline_version: str = "1"
    # Region detector of the detect stage: "yolo" (models/detector/detector.onnx) or "whole-page".
    detector: Literal["yolo", "whole-page"] = "whole-page"
    # OCR engine of the ocr stage: "tesseract-page-prepared" (the page cleaned up first), "tesseract-page" (the page as
    # it came) or "rapidocr" (PP-OCRv4 ONNX models, rapidocr-onnxruntime).
    ocr_engine: Literal["tesseract-page", "tesseract-page-prepared", "tesseract-page-prepared-cli", "rapidocr"] = (
        "tesseract-page-prepared"
    )
    # Uploads: bytes, pixels per page (decompression-bomb guard), pages per document.
    max_upload_bytes: int = 20 * 1024 * 1024
    max_page_pixels: int = 50_000_000
    max_pages: int = 30
    pdf_dpi: int = 200

    # Reliability: attempts per stage before a job is failed, retry backoff (seconds).
    max_attempts: int = 5
    retry_backoff_base: float = 2.0
    retry_backoff_max: float = 120.0
    detect_limits: StageLimits = StageLimits(soft=60, hard=90)
    ocr_limits: StageLimits = StageLimits(soft=240, hard=300)
    tag_limits: StageLimits = StageLimits(soft=60, hard=90)
    normalise_limits: StageLimits = StageLimits(soft=60, hard=90)
    # Must exceed the longest hard limit, or Redis redelivers a task that is still running.
    visibility_timeout: int = 3600
    callback_timeout: float = 5.0

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.env == "production" and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError("RXLAB_SECRET_KEY must be set to a real secret in production")
        longest = max(lim.hard for lim in self.stage_limits().values())
        if self.visibility_timeout <= longest:
            raise ValueError("RXLAB_VISIBILITY_TIMEOUT must exceed the longest stage hard time limit")
        return self

    def stage_limits(self) -> dict[str, StageLimits]:
        """Return the time limits per stage name."""
        return {
            "detect": self.detect_limits,
            "ocr": self.ocr_limits,
            "tag": self.tag_limits,
            "normalise": self.normalise_limits,
        }


class GatewaySettings(Settings):
    """The HTTP gateway's settings."""

    public_base_url: str = ""
    allow_private_callbacks: bool = True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()


@lru_cache(maxsize=1)
def get_gateway_settings() -> GatewaySettings:
    """Return the gateway's settings, read once from the environment."""
    return GatewaySettings()
