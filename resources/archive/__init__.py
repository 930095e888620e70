"""Light-curve archive: one resource (`LightCurveArchive`), three backends (simulated, local, mast)."""

from resources.archive.base import FAILED, FOUND, MISSING, SKIPPED, FetchResult, manifest_files
from resources.archive.resource import LightCurveArchive

__all__ = ["FAILED", "FOUND", "MISSING", "SKIPPED", "FetchResult", "LightCurveArchive", "manifest_files"]
