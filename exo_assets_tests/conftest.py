"""Shared fixtures: paths to the real NASA FITS files shipped with the tests, and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

FIXTURES = Path(__file__).parent / "fixtures"
KEPLER90_FILES = sorted((FIXTURES / "fits" / "kepler").glob("kplr011442793-*_llc.fits"))
PI_MEN_FILE = next((FIXTURES / "fits" / "tess").glob("*261136679*"))
LHS3844_FILE = next((FIXTURES / "fits" / "tess").glob("*410153553*"))
KIC10797460_FILE = FIXTURES / "fits" / "kepler" / "kic010797460_lightkurve.fits"


@pytest.fixture
def kepler90_files() -> list[Path]:
    return KEPLER90_FILES


@pytest.fixture
def bad_fits_dir(tmp_path) -> Path:
    """A folder with one good file and four bad ones: corrupt, truncated, empty, not a light curve."""
    folder = tmp_path / "bad"
    folder.mkdir()
    shutil.copy(KIC10797460_FILE, folder / "good.fits")
    (folder / "corrupt.fits").write_bytes(np.random.default_rng(0).bytes(5760))
    data = PI_MEN_FILE.read_bytes()
    (folder / "truncated.fits").write_bytes(data[: len(data) // 3])
    (folder / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32)).writeto(folder / "image.fits")
    return folder
