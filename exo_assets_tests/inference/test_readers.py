"""Readers of uploaded curves: CSV columns (case-insensitive, aliases), exact floats, clear errors; FITS."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from exo_assets.inference import InputError, read_csv_curve, read_curve_bytes, read_fits_curve
from exo_assets_tests.conftest import KEPLER90_FILES, PI_MEN_FILE


def test_csv_case_insensitive_with_aliases_and_exact_floats():
    t = np.array([131.512345678901234, 131.53278, 131.55321])
    f = np.array([1.0000000000000002, 0.9999999999999998, np.nan])
    text = "# a comment line\nBTJD, PDCSAP_FLUX ,Flux_Err,QUALITY\n" + "\n".join(
        f"{float(a)!r},{'' if np.isnan(b) else repr(float(b))},0.001,{q}" for a, b, q in zip(t, f, (0, 128, 0)))
    curve = read_csv_curve(text.encode())
    assert np.array_equal(curve.time, t)  # bit-for-bit, not a fast approximate parse
    assert curve.flux[:2].tolist() == f[:2].tolist() and np.isnan(curve.flux[2])
    assert curve.flux_err.tolist() == [0.001] * 3
    assert curve.quality.tolist() == [0, 128, 0]
    assert curve.star_id == "" and curve.mission == "" and curve.header == {}


def test_csv_without_error_column():
    curve = read_csv_curve(b"time,flux\n1,2\n3,4\n")
    assert curve.flux_err is None and curve.time.tolist() == [1.0, 3.0]


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"  \n", "empty"),
    (b"time,brightness\n1,2\n", "needs a time and a flux column"),
    (b"time,flux\n", "no data rows"),
    (b"time,flux\n1,2\n2,two\n", "non-numeric value 'two' at data row 2"),
    (b"time,flux\n1,2\nthree,2\n", "column 'time'"),
    (b"\xff\xfe\x00\x01garbage", "CSV"),
])
def test_csv_errors(data, fragment):
    with pytest.raises(InputError, match=fragment):
        read_csv_curve(data)


def test_fits_light_curve_keeps_quality_segments_and_header():
    curve = read_curve_bytes(PI_MEN_FILE.read_bytes(), "anything.bin")  # recognised by content
    assert curve.sources == [] and curve.star_id == "TIC 261136679" and curve.mission == "TESS"
    assert curve.time.size == curve.flux.size == curve.quality.size > 10000
    assert set(curve.segment.tolist()) == {1}
    assert curve.header["TEFF"] > 5000
    kepler = read_fits_curve(KEPLER90_FILES[0].read_bytes())
    assert kepler.star_id == "KIC 11442793" and kepler.mission == "Kepler"


def test_fits_that_is_not_a_light_curve():
    buf = io.BytesIO()
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.float32)).writeto(buf)
    with pytest.raises(InputError, match="not a Kepler/K2/TESS light curve"):
        read_curve_bytes(buf.getvalue(), "image.fits")
    with pytest.raises(InputError, match="truncated"):
        read_curve_bytes(PI_MEN_FILE.read_bytes()[:10000], "cut.fits")
