"""Uploaded light curves -> arrays: CSV and Kepler/K2/TESS FITS (Dagster-free).

CSV: a header row naming at least a time and a flux column, case-insensitive, with these aliases:
time = time | bjd | btjd | bkjd | t; flux = flux | pdcsap_flux | sap_flux | f; flux_err = flux_err |
flux_error | pdcsap_flux_err | sap_flux_err | err | sigma; quality = quality (optional). Lines starting
with '#' are comments; empty cells are missing cadences (NaN). Times in BKJD/BTJD days, or BJD
(converted by `validation.validate_curve`).

Both give a `LightCurveData` (the one curve type of inference and training); a CSV's has no star id,
mission or header, and None where a column is missing (flux_err, quality; segment always).

FITS: the project's reader `exo_assets.science.lightcurves.read_lightcurve_file` (lightkurve, PDCSAP
flux, quality flags kept so the cleaning masks them exactly as in training); a FITS that is not a
Kepler/K2/TESS light curve is refused with its reason.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import replace

import numpy as np
import pandas as pd

from exo_assets.inference.errors import InputError
from exo_assets.inference.request import curve_of
from exo_assets.science.lightcurves import LightCurveData, LightCurveError, read_lightcurve_file

TIME_NAMES = ("time", "bjd", "btjd", "bkjd", "t")
FLUX_NAMES = ("flux", "pdcsap_flux", "sap_flux", "f")
ERR_NAMES = ("flux_err", "flux_error", "pdcsap_flux_err", "sap_flux_err", "err", "sigma")
FITS_MAGIC = b"SIMPLE  ="


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in columns:
            return columns[name]
    return None


def _numeric(frame: pd.DataFrame, col: str, label: str) -> np.ndarray:
    raw = frame[col]
    if pd.api.types.is_numeric_dtype(raw):  # parsed exactly (float_precision="round_trip")
        return raw.to_numpy(np.float64)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"CSV column {col!r} ({label}) has a non-numeric value {str(raw.iloc[i])[:40]!r} "
                         f"at data row {i + 1}")
    return values.to_numpy(np.float64)


def read_csv_curve(data: bytes) -> LightCurveData:
    """Read a CSV light curve (see the module docstring). InputError with the reason when unusable."""
    if not data or not data.strip():
        raise InputError("the uploaded file is empty")
    try:
        frame = pd.read_csv(io.BytesIO(data), comment="#", skipinitialspace=True, float_precision="round_trip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"not a readable CSV ({type(err).__name__}: {str(err)[:200]})") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    t_col, f_col = _pick(columns, TIME_NAMES), _pick(columns, FLUX_NAMES)
    if t_col is None or f_col is None:
        raise InputError(f"CSV needs a time and a flux column (case-insensitive; time: {'/'.join(TIME_NAMES)}; "
                         f"flux: {'/'.join(FLUX_NAMES)}); found columns {list(map(str, frame.columns))[:20]}")
    if frame.empty:
        raise InputError("the CSV has a header but no data rows")
    e_col = _pick(columns, ERR_NAMES)
    q_col = columns.get("quality")
    quality = _numeric(frame, q_col, "quality") if q_col is not None else None
    if quality is not None:
        quality = np.nan_to_num(quality, nan=0).astype(np.int64)
    return curve_of(time=_numeric(frame, t_col, "time"), flux=_numeric(frame, f_col, "flux"),
                    flux_err=_numeric(frame, e_col, "flux_err") if e_col is not None else None, quality=quality)


def read_fits_curve(data: bytes) -> LightCurveData:
    """Read a Kepler/K2/TESS light-curve FITS upload through `read_lightcurve_file`."""
    if not data:
        raise InputError("the uploaded file is empty")
    fd, tmp = tempfile.mkstemp(suffix=".fits")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        lc = read_lightcurve_file(tmp)
    except LightCurveError as err:
        raise InputError(f"not a usable light-curve FITS: {err}") from None
    finally:
        os.unlink(tmp)
    return replace(lc, sources=[], header=dict(lc.header))  # not the temporary file's name


def read_curve_bytes(data: bytes, filename: str = "") -> LightCurveData:
    """CSV or FITS by content (FITS files start with 'SIMPLE  =') or a .fits/.fit/.fts name."""
    if not data:
        raise InputError("the uploaded file is empty")
    name = (filename or "").lower()
    if data[:9] == FITS_MAGIC or name.endswith((".fits", ".fit", ".fts")):
        return read_fits_curve(data)
    return read_csv_curve(data)
