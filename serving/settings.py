"""Server settings: a pydantic model read from the environment when the app is created (never at import).

| variable | field | default |
|---|---|---|
| `DAGSTER_HOME` | dagster_home | `./.dagster_home` (as `exo-assets materialize`) |
| `CP_THRESH` / `CP_HIGH` | cp_thresh / cp_high | 0.5 / 0.9 |
| `EXO_MEDIA_DIR` | media_dir | `<dagster_home>/serving_media` |
| `EXO_MAX_UPLOAD_BYTES` | max_upload_bytes | 64 MiB (whole request body) |
| `EXO_MAX_BATCH` | max_batch | 50 |
| `EXO_FIT_TIMEOUT_S` | fit_timeout_s | 60 s per curve |
| `EXO_FIT_WORKERS` | fit_workers | 2 threads |
| `EXO_RELOAD_INTERVAL_S` | reload_interval_s | 10 s (0: only on `/api/models/info` and at start) |
| `EXO_API_KEYS` | api_keys | empty: no auth; else comma-separated keys for `X-API-Key` |
| `EXO_CORS_ORIGINS` | cors_origins | empty: no CORS headers; comma-separated origins or `*` |
| `EXO_MISSIONS` | missions | Kepler,K2,TESS |
| `EXO_MEDIA_MAX_FILES` | media_max_files | 2000 plot files kept (oldest removed) |
| `EXO_NUMBA_THREADS` / `EXO_TORCH_THREADS` | numba_threads / torch_threads | 1 / 1 per fit thread |

One numba thread per fit thread: wotan's biweight kernels are numba `parallel=True`, and on a small,
busy machine their spinning OpenMP threads made the detrending of a 65k-cadence curve ~4x slower
(0.53 s instead of 0.13 s, measured here); parallelism comes from `fit_workers` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exo_assets.science.missions import MISSIONS


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class ServeSettings(BaseModel):
    """Settings of one server (see the module docstring for the environment variables)."""

    model_config = ConfigDict(frozen=True)

    dagster_home: Path = Path(".dagster_home")
    cp_thresh: float = Field(0.5, gt=0.0, le=1.0)
    cp_high: float = Field(0.9, gt=0.0, le=1.0)
    media_dir: Path | None = None
    media_url: str = "/media"
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_batch: int = Field(50, ge=1)
    fit_timeout_s: float = Field(60.0, gt=0)
    fit_workers: int = Field(2, ge=1)
    reload_interval_s: float = Field(10.0, ge=0)
    api_keys: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    missions: tuple[str, ...] = MISSIONS
    media_max_files: int = Field(2000, ge=10)
    torch_threads: int = Field(1, ge=1)
    numba_threads: int = Field(1, ge=1)

    @field_validator("missions")
    @classmethod
    def _known_missions(cls, value):
        bad = [m for m in value if m not in MISSIONS]
        if bad:
            raise ValueError(f"unknown missions {bad}; expected some of {list(MISSIONS)}")
        return tuple(value)

    @model_validator(mode="after")
    def _thresholds(self):
        if self.cp_thresh > self.cp_high:
            raise ValueError(f"CP_THRESH ({self.cp_thresh}) must not exceed CP_HIGH ({self.cp_high})")
        return self

    @property
    def media_path(self) -> Path:
        return Path(self.media_dir) if self.media_dir else Path(self.dagster_home) / "serving_media"

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "ServeSettings":
        """Settings from environment variables (`os.environ` by default), then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict = {}
        mapping = {
            "DAGSTER_HOME": "dagster_home", "CP_THRESH": "cp_thresh", "CP_HIGH": "cp_high",
            "EXO_MEDIA_DIR": "media_dir", "EXO_MAX_UPLOAD_BYTES": "max_upload_bytes", "EXO_MAX_BATCH": "max_batch",
            "EXO_FIT_TIMEOUT_S": "fit_timeout_s", "EXO_FIT_WORKERS": "fit_workers",
            "EXO_RELOAD_INTERVAL_S": "reload_interval_s", "EXO_MEDIA_MAX_FILES": "media_max_files",
            "EXO_NUMBA_THREADS": "numba_threads", "EXO_TORCH_THREADS": "torch_threads",
        }
        for var, name in mapping.items():
            if env.get(var):
                values[name] = env[var]
        if env.get("EXO_API_KEYS"):
            values["api_keys"] = tuple(_csv(env["EXO_API_KEYS"]))
        if env.get("EXO_CORS_ORIGINS"):
            values["cors_origins"] = tuple(_csv(env["EXO_CORS_ORIGINS"]))
        if env.get("EXO_MISSIONS"):
            values["missions"] = tuple(_csv(env["EXO_MISSIONS"]))
        values.update(overrides)
        return cls(**values)
