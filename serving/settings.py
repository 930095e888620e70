"""Server settings (pydantic-settings): read from the environment when the app is created, never at import.

Every field is read from `EXO_<FIELD>` (e.g. `EXO_FIT_TIMEOUT_S`); three first from their historical names
(`DAGSTER_HOME`, `CP_THRESH`, `CP_HIGH`), which win over the prefixed ones.

| variable | field | default |
|---|---|---|
| `DAGSTER_HOME` (or `EXO_DAGSTER_HOME`) | dagster_home | `./.dagster_home` (as `exo-assets materialize`) |
| `CP_THRESH` / `CP_HIGH` (or `EXO_CP_...`) | cp_thresh / cp_high | 0.5 / 0.9 (`exo_assets.defaults`) |
| `EXO_MEDIA_DIR` | media_dir | `<dagster_home>/serving_media` |
| `EXO_MEDIA_URL` | media_url | `/media` |
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

Empty variables count as unset. One numba thread per fit thread: wotan's biweight kernels are numba
`parallel=True`, and on a small, busy machine their spinning OpenMP threads made the detrending of a
65k-cadence curve ~4x slower (0.53 s instead of 0.13 s, measured here); parallelism comes from
`fit_workers` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from exo_assets.defaults import CP_HIGH, CP_THRESH, DAGSTER_HOME_DEFAULT
from exo_assets.science.missions import MISSIONS

ENV_PREFIX = "EXO_"
#: Fields read first from a name without the prefix.
LEGACY_NAMES = {"dagster_home": "DAGSTER_HOME", "cp_thresh": "CP_THRESH", "cp_high": "CP_HIGH"}
CommaList = Annotated[tuple[str, ...], NoDecode]
_READ_ENV: ContextVar[bool] = ContextVar("exo_serve_read_env", default=False)


def _aliases(field: str) -> AliasChoices:
    return AliasChoices(field, f"{ENV_PREFIX}{field.upper()}", LEGACY_NAMES[field])


class ServeSettings(BaseSettings):
    """Settings of one server (see the module docstring for the environment variables).

    `ServeSettings(...)` takes explicit values only; `ServeSettings.from_env()` reads the environment.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, env_ignore_empty=True,
                                      populate_by_name=True, extra="ignore")

    dagster_home: Path = Field(Path(DAGSTER_HOME_DEFAULT), validation_alias=_aliases("dagster_home"))
    cp_thresh: float = Field(CP_THRESH, gt=0.0, le=1.0, validation_alias=_aliases("cp_thresh"))
    cp_high: float = Field(CP_HIGH, gt=0.0, le=1.0, validation_alias=_aliases("cp_high"))
    media_dir: Path | None = None
    media_url: str = "/media"
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_batch: int = Field(50, ge=1)
    fit_timeout_s: float = Field(60.0, gt=0)
    fit_workers: int = Field(2, ge=1)
    reload_interval_s: float = Field(10.0, ge=0)
    api_keys: CommaList = ()
    cors_origins: CommaList = ()
    missions: CommaList = MISSIONS
    media_max_files: int = Field(2000, ge=10)
    torch_threads: int = Field(1, ge=1)
    numba_threads: int = Field(1, ge=1)

    @field_validator("api_keys", "cors_origins", "missions", mode="before")
    @classmethod
    def _split_commas(cls, value):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

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
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        """Explicit values only, unless `from_env` is reading the environment (pydantic-settings' source)."""
        return (init_settings, env_settings) if _READ_ENV.get() else (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> ServeSettings:
        """Settings from the environment (`os.environ`, or only `environ` when given), then explicit overrides."""
        if environ is None:
            token = _READ_ENV.set(True)
            try:
                return cls(**overrides)
            finally:
                _READ_ENV.reset(token)
        values = {}
        for name in cls.model_fields:
            for var in (LEGACY_NAMES.get(name), f"{ENV_PREFIX}{name.upper()}"):
                if var and environ.get(var):
                    values[name] = environ[var]
                    break
        return cls(**{**values, **overrides})
