"""Errors of the inference engine, each with its API code and HTTP status (Dagster- and FastAPI-free).

| class | code | HTTP status | when |
|---|---|---|---|
| `InputError` | BAD_INPUT | 422 | the request or curve is unusable (lengths, too few points, ephemeris) |
| `MissionMismatch` | BAD_INPUT | 400 | a FITS header names another mission than the request |
| `FitError` | FIT_FAIL | 422 | the curve is valid but the signal cannot be measured |
| `FitTimeout` | FIT_FAIL | 504 | the fit ran past its deadline |
| `ModelError` | MODEL_ERROR | 503 | no usable model for the requested mission |
"""

from __future__ import annotations

import time


class InferenceError(Exception):
    """An error with an API `code`, an HTTP `status` and a client-safe `message`."""

    code = "INTERNAL"
    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(InferenceError):
    """The request or the curve is not usable (wrong lengths, too few points, bad ephemeris, ...)."""

    code = "BAD_INPUT"
    status = 422


class MissionMismatch(InputError):
    """The uploaded file's header names another mission than the request (the wrong model would answer)."""

    status = 400


def check_mission(requested: str | None, header_mission: str | None) -> str:
    """The mission to use: the request's, or the file's; MissionMismatch when both are given and differ."""
    req, hdr = (requested or "").strip(), (header_mission or "").strip()
    if req and hdr and req != hdr:
        raise MissionMismatch(
            f"the file's header says mission {hdr!r} but the request says {req!r}: send the "
            f"matching mission (or none: the header's is used)"
        )
    return req or hdr


class FitError(InferenceError):
    """The curve is valid but the signal could not be measured (no data near the transit, ...)."""

    code = "FIT_FAIL"
    status = 422


class FitTimeout(FitError):
    """The fit ran past its deadline."""

    status = 504


class ModelError(InferenceError):
    """No usable model for the requested mission."""

    code = "MODEL_ERROR"
    status = 503


def check_deadline(deadline: float | None, stage: str) -> None:
    """Raise FitTimeout when `time.monotonic()` is past `deadline` (None: no deadline)."""
    if deadline is not None and time.monotonic() > deadline:
        raise FitTimeout(f"the fit exceeded its time limit (during {stage})")
