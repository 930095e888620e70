"""Read AstroNet-format TFRecord shards (without TensorFlow) into the project's schemas.

Two real external sets are supported (see /work/shared/data/SOURCES.md):

``vetting`` -- astronet_vetting/ (Yu et al. 2019, TESS QLP, sectors 1-5; 14,798 records)
    Per record: global_view (201), local_view (61), secondary_view (61) float lists; scalars
    Period (d), Duration (d; hours in tces.csv), Transit_Depth, SN, Tmag, Qingress, depth_change,
    and the non-physics / leaking fields toi_id (float 0.01, or bytes like b'?.01' in ~15% of
    records: the type varies per record), Sectors, is_multi, camera, ccd, Epoc, tic_id, row_id,
    Disposition (bytes J/EB/PC/O). Views: median 0, minimum -1, each view normalised on its own,
    transit a dip. Measured: Transit_Depth = 3.79e-7 x ppm - 51882.9 and Tmag = 0.552 x Tmag_mag -
    10.55 (affine rescaling, float32-quantised: the depth is ~constant), so they are kept as
    ``transit_depth_rescaled`` / ``tmag_rescaled`` (unitless). (row_id, tic_id) is unique;
    row_id alone is not; tic_id > 1e10 occurs (QLP-internal ids) and is kept as an identifier.

``toi`` -- tess_toi_views/ (Hultstrand/TESS_ExoFinder, sectors 1-48; 2,706 records)
    Per record: global_view (201), local_view (61); scalars Period (d), Duration (d),
    'Transit Depth' (ppm, with a space), SN, and the same leak fields (no secondary view, no Tmag,
    Qingress or depth_change). Every signal is stored twice in a row (all scalars equal); the first
    record holds the transit views, the second a view without the signal at the centre: the first of
    each run is kept (`dedupe_consecutive`). Views have median 0 and minimum -1 but the transit is
    a PEAK (opposite sign) and the -1 is the lowest noise bin, so they are flipped and re-normalised
    (`detect_view_sign`, `unify_views`). The file's Disposition (0/1) does not follow the TOI
    catalog: labels come from the TOI catalog by TIC id and period within 1%
    (`labels_from_catalog`).

Leakage: `FORBIDDEN_COLUMNS` (ids, sectors, camera/ccd, epoch, toi_id, disposition, ...) never become
model features; `model_feature_columns` returns only `ALLOWED_SCALARS` + derived view features and
raises `LeakageError` when a forbidden column is requested.

Reading does not need TensorFlow: the record framing (length, masked CRC-32C of the length, data,
masked CRC-32C of the data) is read here with both CRCs checked (``crc32c``), and each record is
parsed with the ``tfrecord`` package's ``example_pb2`` (imported lazily: the package imports torch).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exo_assets.science.view_features import (
    DERIVED_SCALAR_COLUMNS,
    DERIVED_SCALAR_SCHEMA,
    EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS,
    VIEW_FEATURE_COLUMNS,
    VIEW_FEATURE_SCHEMA,
    compute_view_features,
    depth_and_scatter,
    derived_scalar_features,
    global_masks,
    local_masks,
    noise_floored_scale,
)
from exo_assets.science.catalogs import LABEL_MAPS, LeakageError, assert_no_leakage, leakage_columns, read_archive_csv

DATASETS: tuple[str, ...] = ("vetting", "toi", "dr24")
PROVENANCE: dict[str, str] = {"vetting": "astronet_vetting", "toi": "tess_toi_views", "dr24": "kepler_dr24_views"}
CLASSES: dict[str, list[str]] = {"vetting": ["PC", "EB", "J"], "toi": ["CP", "PC", "FP"], "dr24": ["PC", "AFP", "NTP"]}
#: Half-span of each set's local view, in transit durations (AstroNet DR24: 201 bins over +-4 durations).
LOCAL_HALF_WIDTH_DURATIONS: dict[str, float] = {"vetting": EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS,
                                                "toi": EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS, "dr24": 4.0}
#: Mission and (star key, signal key) record fields of each set (DR24: kepid, tce_plnt_num).
MISSION: dict[str, str] = {"vetting": "TESS", "toi": "TESS", "dr24": "Kepler"}
DR24_KEYS: tuple[str, str] = ("kepid", "tce_plnt_num")
#: Shard feature name -> project view name.
VIEW_KEYS: dict[str, str] = {"global_view": "global", "local_view": "local", "secondary_view": "secondary"}

#: Raw shard scalar -> (project column, unit, meaning), per dataset. Only these become features.
SCALAR_MAPS: dict[str, dict[str, tuple[str, str, str]]] = {
    "vetting": {
        "Period": ("period_days", "d", "orbital period"),
        "Duration": ("duration_days", "d", "transit duration (days in the shards, hours in tces.csv)"),
        "Transit_Depth": ("transit_depth_rescaled", "", "QLP depth, affinely rescaled in the shards "
                          "(~3.79e-7 x ppm - 51882.9, float32: nearly constant)"),
        "SN": ("snr", "", "QLP signal-to-noise ratio"),
        "Tmag": ("tmag_rescaled", "", "TESS magnitude, affinely rescaled in the shards (~0.552 x mag - 10.55)"),
        "Qingress": ("qingress", "", "QLP ingress fraction (values outside [0, 0.5] occur and are kept)"),
        "depth_change": ("depth_change", "", "QLP depth change statistic (|x| > 1e6 -> NaN)"),
    },
    "toi": {
        "Period": ("period_days", "d", "orbital period"),
        "Duration": ("duration_days", "d", "transit duration"),
        "Transit Depth": ("transit_depth_ppm", "ppm", "transit depth"),
        "SN": ("snr", "", "signal-to-noise ratio"),
    },
    "dr24": {
        "tce_period": ("period_days", "d", "orbital period"),
        "tce_duration": ("duration_days", "d", "transit duration (days in the records)"),
        "tce_depth": ("transit_depth_ppm", "ppm", "transit depth"),
        "tce_model_snr": ("snr", "", "DR24 transit model S/N"),
    },
}
#: Columns a model may use from the shard scalars (project names), plus the duty cycle.
ALLOWED_SCALARS: tuple[str, ...] = (
    "period_days", "duration_days", "transit_depth_rescaled", "transit_depth_ppm", "snr", "tmag_rescaled",
    "qingress", "depth_change",
)
#: Shard fields (and their project-side forms) that are leakage or not physics.
FORBIDDEN_COLUMNS: frozenset[str] = frozenset(
    {
        "toi_id", "Sectors", "sectors", "camera", "ccd", "row_id", "tic_id", "Epoc", "epoc", "epoch",
        "Disposition", "disposition", "is_multi", "signal_id", "star_id", "label", "mission", "provenance",
        "split", "source_file", "record_index", "RA", "Dec", "ra", "dec",
    }
)
#: Identifier columns of `ExternalSet.features` (output only, never features).
ID_COLUMNS: list[str] = [
    "signal_id", "star_id", "row_id", "tic_id", "label", "mission", "provenance", "split", "source_file",
    "record_index",
]
#: |x| above this is treated as a corrupt value (NaN) in the allowed scalars (depth_change has 1e25).
ABSURD_ABS_VALUE = 1e6
#: Relative period tolerance when matching TOI records to the TOI catalog.
PERIOD_TOLERANCE = 0.01

_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8


class TFRecordError(RuntimeError):
    """A shard is missing, unreadable, truncated or corrupt; the message names the file."""


@dataclass
class ExternalSet:
    """An external set in the project's schemas.

    Attributes:
        features: one row per signal: `ID_COLUMNS`, then the allowed scalars present in this set
            (project names, float64), then `VIEW_FEATURE_COLUMNS` and `DERIVED_SCALAR_COLUMNS`
            (float64, NaN where not derivable).
        views: "global", "local" and (vetting only) "secondary" -> float32 (n, bins), rows aligned
            with `features`; only the channels the shards have (no odd/even).
        classes: label order (vetting PC/EB/J; toi CP/PC/FP).
        meta: counts, dropped rows with reasons, detected sign, units, notes.
    """

    features: pd.DataFrame
    views: dict[str, np.ndarray]
    classes: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        """View names present (what a CNN config must be told)."""
        return list(self.views)

    def model_features(self) -> list[str]:
        """`model_feature_columns(self.features)`."""
        return model_feature_columns(self.features)


# --------------------------------------------------------------------------------------------- reading


def _masked_crc(data) -> int:
    import crc32c

    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def iter_records(path, verify_crc: bool = True):
    """Yield each record's payload (bytes) of one uncompressed TFRecord file.

    Raises:
        TFRecordError: missing/unreadable file, truncated record, CRC mismatch (message names the file
            and the byte offset).
    """
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise TFRecordError(f"{path}: TFRecord shard not found") from err
    except OSError as err:
        raise TFRecordError(f"{path}: cannot read TFRecord shard: {err}") from err
    size = len(data)
    view = memoryview(data)
    pos = 0
    while pos < size:
        if pos + _HEADER.size > size:
            raise TFRecordError(f"{path}: truncated record header at byte {pos} (file has {size} bytes)")
        length, length_crc = _HEADER.unpack_from(data, pos)
        if verify_crc and _masked_crc(view[pos:pos + 8]) != length_crc:
            raise TFRecordError(f"{path}: corrupt record at byte {pos} (length CRC mismatch; not a TFRecord "
                                "file or damaged)")
        start = pos + _HEADER.size
        end = start + length
        if end + _CRC.size > size:
            raise TFRecordError(f"{path}: truncated record at byte {pos} (needs {length} bytes + CRC, "
                                f"{size - start} left)")
        if verify_crc and _masked_crc(view[start:end]) != _CRC.unpack_from(data, end)[0]:
            raise TFRecordError(f"{path}: corrupt record at byte {pos} (data CRC mismatch)")
        yield bytes(view[start:end])
        pos = end + _CRC.size


def _example_class():
    try:
        from tfrecord import example_pb2  # noqa: PLC0415 - heavy (imports torch); only when reading
    except ImportError as err:  # pragma: no cover - declared dependency
        raise TFRecordError("the 'tfrecord' package is needed to parse TFRecord examples") from err
    return example_pb2.Example


def parse_example(payload: bytes, example_cls=None) -> dict[str, object]:
    """One serialized tf.train.Example -> {name: value}.

    float_list / int64_list of length 1 -> Python float / int; longer -> np.ndarray (float32 / int64);
    bytes_list of length 1 -> str (UTF-8, replacement on errors), longer -> list[str]; empty -> None.
    """
    cls = example_cls or _example_class()
    ex = cls()
    ex.ParseFromString(payload)
    out: dict[str, object] = {}
    for name, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        if kind is None:
            out[name] = None
            continue
        values = getattr(feat, kind).value
        if kind == "bytes_list":
            strs = [bytes(b).decode("utf-8", errors="replace") for b in values]
            out[name] = strs[0] if len(strs) == 1 else (strs or None)
        elif not len(values):
            out[name] = None
        elif kind == "float_list":
            out[name] = float(values[0]) if len(values) == 1 else np.asarray(values, dtype=np.float32)
        else:
            out[name] = int(values[0]) if len(values) == 1 else np.asarray(values, dtype=np.int64)
    return out


def _split_of(name: str) -> str:
    m = re.match(r"(train|val|valid|validation|test)", name)
    if not m:
        return ""
    return {"valid": "val", "validation": "val"}.get(m.group(1), m.group(1))


def read_shards(paths, verify_crc: bool = True) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Read TFRecord shards into (scalars, views), one row per record, in file then record order.

    Args:
        paths: shard paths (str or Path); read in the given order.
        verify_crc: check both CRC-32C checksums of every record.

    Returns:
        scalars: DataFrame of every length-1 feature (raw shard names; a field whose type varies
            between records, like toi_id, becomes an object column) plus `source_file` (file name),
            `split` (train/val/test from the file name) and `record_index` (index within the file).
        views: raw shard feature name (e.g. "local_view") -> float32 (n, bins) for every float
            feature longer than one value.

    Raises:
        TFRecordError: missing, truncated or corrupt shard, a record that is not a tf.Example, or a
            view whose length differs between records (message names the file).
        ValueError: no paths.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise ValueError("read_shards needs at least one shard path")
    cls = _example_class()
    scalar_rows: list[dict] = []
    view_rows: dict[str, list[np.ndarray]] = {}
    view_len: dict[str, tuple[int, str]] = {}
    for path in paths:
        name = Path(path).name
        n_before = len(scalar_rows)
        for i, payload in enumerate(iter_records(path, verify_crc)):
            try:
                rec = parse_example(payload, cls)
            except Exception as err:  # protobuf DecodeError and friends
                raise TFRecordError(f"{path}: record {i} is not a valid tf.train.Example: {err}") from err
            row = {"source_file": name, "split": _split_of(name), "record_index": i}
            for key, value in rec.items():
                if isinstance(value, np.ndarray) and value.dtype == np.float32:
                    known = view_len.setdefault(key, (value.size, path))
                    if known[0] != value.size:
                        raise TFRecordError(f"{path}: record {i}: {key} has {value.size} values, "
                                            f"{known[0]} in {known[1]}")
                    view_rows.setdefault(key, [None] * len(scalar_rows)).append(value)
                else:
                    row[key] = value
            for key, lst in view_rows.items():  # records lacking a view get NaNs
                if len(lst) < len(scalar_rows) + 1:
                    lst.append(None)
            scalar_rows.append(row)
        if len(scalar_rows) == n_before:
            raise TFRecordError(f"{path}: shard holds no records")
    n = len(scalar_rows)
    views: dict[str, np.ndarray] = {}
    for key, lst in view_rows.items():
        arr = np.full((n, view_len[key][0]), np.nan, dtype=np.float32)
        for i, v in enumerate(lst):
            if v is not None:
                arr[i] = v
        views[key] = arr
    scalars = pd.DataFrame(scalar_rows)
    first = ["source_file", "split", "record_index"]
    scalars = scalars[first + sorted(c for c in scalars.columns if c not in first)]
    return scalars, views


def shard_paths(folder) -> list[str]:
    """train-*, val-* and test-* shards of a folder, sorted (CSV and other files ignored)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TFRecordError(f"{folder}: shard folder not found")
    found = sorted(p for p in folder.iterdir() if p.is_file() and _split_of(p.name) and "." not in p.name)
    if not found:
        raise TFRecordError(f"{folder}: no train-*/val-*/test-* shards")
    return [str(p) for p in found]


# ----------------------------------------------------------------------------------- dataset / sign


def detect_dataset(columns) -> str:
    """"vetting" or "toi" from the shard feature names.

    vetting: Transit_Depth (underscore) or secondary_view; toi: 'Transit Depth' (with a space).
    """
    cols = set(map(str, columns))
    if "av_training_set" in cols or "kepid" in cols:
        return "dr24"
    if "Transit Depth" in cols:
        return "toi"
    if "Transit_Depth" in cols or "secondary_view" in cols or "secondary" in cols:
        return "vetting"
    raise ValueError(f"not an AstroNet vetting or TOI-views shard: features {sorted(cols)}")


def _local_view(views: dict) -> np.ndarray:
    for key in ("local", "local_view"):
        if key in views:
            return np.asarray(views[key], dtype=np.float64)
    raise ValueError(f"no local view among {list(views)}")


def central_contrast(local: np.ndarray,
                     half_width_durations: float = EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS) -> np.ndarray:
    """Per row: mean of the in-transit bins (|dt| <= D/2) minus the out-of-transit median (|dt| >= D).

    Negative for a dip, positive for a peak.
    """
    from exo_assets.science.view_features import bin_offsets

    v = np.asarray(local, dtype=np.float64)
    off = np.abs(bin_offsets(v.shape[1], half_width_durations))
    return v[:, off <= 0.5].mean(axis=1) - np.median(v[:, off >= 1.0], axis=1)


def detect_view_sign(views: dict, half_width_durations: float = EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS) -> int:
    """+1 when transits are dips (project convention), -1 when they are peaks, for a whole set.

    Decided by the median over rows of `central_contrast` of the local view (the centre of the local
    view is where every record's transit is); per-row signs are noisy for weak signals, so one sign
    per dataset is returned. Raises ValueError for an empty set or a zero median.
    """
    contrast = central_contrast(_local_view(views), half_width_durations)
    contrast = contrast[np.isfinite(contrast)]
    if contrast.size == 0:
        raise ValueError("cannot detect the view sign of an empty set")
    med = float(np.median(contrast))
    if med == 0:
        raise ValueError("view sign is undetermined (median central contrast is 0)")
    return 1 if med < 0 else -1


def unify_views(views: dict, sign: int, period_days=None, duration_days=None,
                half_width_durations: float = EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS,
                ) -> tuple[dict[str, np.ndarray], dict]:
    """Sign-correct and normalise each view to the project convention; float32 arrays.

    Per view and row: multiply by `sign`; subtract the out-of-transit median (|dt| >= 1 duration;
    global view: outside the transit window from period/duration); divide by
    max(depth, 3 x out-of-transit robust sigma), depth = baseline - minimum within 1 duration of the
    centre (as `exo_assets.science.views.make_views`), and never below a tenth of the view's deepest
    excursion (an off-centre dip ends at -10 at most; see `noise_floored_scale`). A clear transit then
    has its minimum at -1, noise-only views stay within ~+-1/3. Each view is scaled on its own (the
    shards lost the common scale), so cross-view depths are not comparable.

    Args:
        views: shard names ("local_view") or project names ("local") -> (n, bins).
        sign: from `detect_view_sign`.

    Returns:
        (unified views under project names, info {view: {"noise_floor": rows, "off_centre_floor": rows}}:
        how many rows a floor rather than the central depth scaled).
    """
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got {sign!r}")
    out: dict[str, np.ndarray] = {}
    info: dict = {}
    for key, arr in views.items():
        name = VIEW_KEYS.get(key, key)
        v = sign * np.asarray(arr, dtype=np.float64)
        n_rows, n = v.shape
        if name == "global":
            out_m, core_m = global_masks(n, period_days, duration_days, n_rows)
        else:
            out_m, core_m = local_masks(n, half_width_durations)
        base, depth, scatter = depth_and_scatter(v, out_m, core_m)
        scale, kind = noise_floored_scale(depth, scatter, base - v.min(axis=1))
        out[name] = ((v - base[:, None]) / scale[:, None]).astype(np.float32)
        info[name] = {"noise_floor": int((kind == 1).sum()), "off_centre_floor": int((kind == 2).sum())}
    return out, info


# ----------------------------------------------------------------------------------------- pairs / labels


def dedupe_consecutive(scalars: pd.DataFrame, views: dict, keys=("tic_id", "row_id"),
                       half_width_durations: float = EXTERNAL_LOCAL_HALF_WIDTH_DURATIONS):
    """Keep the first record of each run of consecutive records with equal `keys` within one file.

    Returns (scalars, views, report); report counts runs by length, the runs whose records differ in
    any other scalar, and (diagnostic) the runs where a later record has a stronger central signal in
    the local view than the kept first one (by `central_contrast` in the dataset's sign).
    """
    group_cols = ["source_file", *keys]
    key_frame = scalars[group_cols].astype(str)
    new_run = (key_frame != key_frame.shift()).any(axis=1).to_numpy()
    run_id = np.cumsum(new_run) - 1
    keep = new_run
    lengths = np.bincount(run_id)
    scalar_cols = [c for c in scalars.columns if c not in ("record_index",)]
    differs = 0
    if (lengths > 1).any():
        first_of_run = np.flatnonzero(new_run)[run_id]
        a = scalars[scalar_cols].astype(str).to_numpy()
        row_diff = (a != a[first_of_run]).any(axis=1)
        differs = int(np.unique(run_id[row_diff]).size)
    stronger_later = 0
    try:
        local = _local_view(views)
        contrast = central_contrast(local, half_width_durations)
        sign = detect_view_sign({"local": local[keep]}, half_width_durations)
        strength = -sign * contrast  # larger = clearer dip after sign correction
        best_other = pd.Series(np.where(keep, -np.inf, strength)).groupby(run_id).max().to_numpy()
        stronger_later = int(np.sum(best_other > strength[keep]))
    except ValueError:
        pass
    report = {
        "records": int(len(scalars)),
        "kept": int(keep.sum()),
        "runs_by_length": {int(k): int(v) for k, v in zip(*np.unique(lengths, return_counts=True))},
        "runs_with_differing_scalars": differs,
        "runs_where_a_later_record_has_a_stronger_central_signal": stronger_later,
    }
    new_scalars = scalars[keep].reset_index(drop=True)
    new_views = {k: np.asarray(v)[keep] for k, v in views.items()}
    return new_scalars, new_views, report


def _dr24_aliases(scalars: pd.DataFrame) -> pd.DataFrame:
    """DR24 records under the names the reader keys on: kepid -> tic_id, tce_plnt_num -> row_id,
    tce_period / tce_duration -> Period / Duration (days), av_training_set -> Disposition."""
    out = scalars.copy()
    for src, dst in (("kepid", "tic_id"), ("tce_plnt_num", "row_id"), ("tce_period", "Period"),
                     ("tce_duration", "Duration"), ("av_training_set", "Disposition")):
        if src in out:
            out[dst] = out[src]
    return out


def _catalog_for_labels(labels_from) -> pd.DataFrame:
    """(tic, period_days, label) rows from a catalog: None -> shipped TOI catalog; path or DataFrame.

    Accepts the normalised catalog (star_id 'TIC n', period_days, label) or a raw TOI export
    (tid, pl_orbper, tfopwg_disp; mapped CP,KP->CP; PC,APC->PC; FP,FA->FP).
    """
    if labels_from is None:
        from exo_assets.science.catalogs import load_catalog

        cat = load_catalog("TESS")
    elif isinstance(labels_from, pd.DataFrame):
        cat = labels_from
    else:
        path = Path(labels_from)
        if not path.exists():
            raise FileNotFoundError(f"{path}: label catalog not found")
        cat = read_archive_csv(path)
    if {"tid", "pl_orbper", "tfopwg_disp"} <= set(cat.columns):
        labels = cat["tfopwg_disp"].astype("string").str.strip().str.upper().map(LABEL_MAPS["TESS"])
        out = pd.DataFrame({"tic": pd.to_numeric(cat["tid"], errors="coerce"),
                            "cat_period": pd.to_numeric(cat["pl_orbper"], errors="coerce"), "label": labels})
    elif {"star_id", "period_days", "label"} <= set(cat.columns):
        tic = cat["star_id"].astype(str).str.extract(r"^\s*TIC\s*(\d+)\s*$", expand=False)
        labels = cat["label"].astype("string").str.strip().str.upper()
        labels = labels.where(labels.isin(CLASSES["toi"]), labels.map(LABEL_MAPS["TESS"]))
        out = pd.DataFrame({"tic": pd.to_numeric(tic, errors="coerce"),
                            "cat_period": pd.to_numeric(cat["period_days"], errors="coerce"), "label": labels})
    else:
        raise ValueError("label catalog needs columns (star_id, period_days, label) or (tid, pl_orbper, "
                         f"tfopwg_disp); got {list(cat.columns)}")
    out = out.dropna()
    out = out[out["cat_period"] > 0]
    out["tic"] = out["tic"].astype(np.int64)
    return out.reset_index(drop=True)


def labels_from_catalog(tic_id, period_days, labels_from=None, tolerance: float = PERIOD_TOLERANCE):
    """Catalog label per signal: same TIC and |P - P_cat| / P_cat <= tolerance (closest period wins).

    Returns (labels: object array, NaN where unmatched; reasons: '' where matched, else why; n_ambiguous:
    signals with several catalog rows within tolerance carrying different labels).
    """
    cat = _catalog_for_labels(labels_from)
    sig = pd.DataFrame({"i": np.arange(len(tic_id)), "tic": pd.to_numeric(pd.Series(tic_id), errors="coerce"),
                        "period": pd.to_numeric(pd.Series(period_days), errors="coerce")})
    j = sig.dropna(subset=["tic"]).astype({"tic": np.int64}).merge(cat, on="tic", how="inner")
    j["rel"] = (j["period"] - j["cat_period"]).abs() / j["cat_period"]
    within = j[j["rel"] <= tolerance]
    ambiguous = int((within.groupby("i")["label"].nunique() > 1).sum())
    best = within.sort_values(["i", "rel"]).drop_duplicates("i")
    labels = np.full(len(sig), np.nan, dtype=object)
    labels[best["i"].to_numpy()] = best["label"].to_numpy()
    reasons = np.full(len(sig), "", dtype=object)
    has_tic = np.isin(sig["i"], j["i"])
    reasons[~has_tic] = "TIC id not in the TOI catalog"
    reasons[has_tic & pd.isna(labels)] = f"no catalog period within {tolerance:.0%}"
    return labels, reasons, ambiguous


# ------------------------------------------------------------------------------------------- schema


def _clip_absurd(values: pd.Series) -> tuple[pd.Series, int]:
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = ~np.isfinite(v) | (v.abs() > ABSURD_ABS_VALUE)
    n_bad = int((bad & v.notna()).sum())
    return v.mask(bad), n_bad


def to_project_schema(scalars: pd.DataFrame, views: dict, dataset: str | None = None, labels_from=None,
                      renormalise: bool = True, require_labels: bool = True) -> ExternalSet:
    """Turn `read_shards` output into an `ExternalSet` (labels, dedupe, sign, allowed scalars, view features).

    Args:
        scalars, views: from `read_shards` (shard names).
        dataset: "vetting" or "toi"; None -> `detect_dataset`.
        labels_from: toi only: catalog path/DataFrame for `labels_from_catalog` (None -> shipped TOI
            catalog). Ignored for vetting (labels are the shards' Disposition; class O dropped).
        renormalise: apply `unify_views` (default). False keeps the shard views, only sign-corrected.
        require_labels: drop rows without a usable label (training). False keeps every signal, with
            label '' where unknown (scoring a test split: every (row_id, tic_id) gets a prediction).
    """
    dataset = dataset or detect_dataset(list(scalars.columns) + list(views))
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    if dataset == "dr24":
        scalars = _dr24_aliases(scalars)
    half = LOCAL_HALF_WIDTH_DURATIONS[dataset]
    required = ["tic_id", "row_id", "Period", "Duration"] + (
        ["Disposition"] if dataset != "toi" and require_labels else [])
    missing = [c for c in required if c not in scalars.columns]
    if missing:
        raise ValueError(f"{dataset} shards lack the fields {missing}")
    meta: dict = {"dataset": dataset, "provenance": PROVENANCE[dataset], "records_read": int(len(scalars))}
    scalars = scalars.copy()
    if "source_file" not in scalars:
        scalars["source_file"] = ""
    if "split" not in scalars:
        scalars["split"] = scalars["source_file"].astype(str).map(_split_of)
    if "record_index" not in scalars:
        scalars["record_index"] = np.arange(len(scalars))
    dropped: dict[str, int] = {}

    if dataset == "toi":
        scalars, views, meta["duplicate_pairs"] = dedupe_consecutive(scalars, views)
        dropped["second record of a consecutive duplicate (noise view)"] = (
            meta["duplicate_pairs"]["records"] - meta["duplicate_pairs"]["kept"])
    dup = scalars.duplicated(["tic_id", "row_id"]).to_numpy()
    if dup.any():
        dropped["repeated (tic_id, row_id)"] = int(dup.sum())
    keep = ~dup
    scalars = scalars[keep].reset_index(drop=True)
    views = {k: np.asarray(v)[keep] for k, v in views.items()}

    # Labels.
    if dataset != "toi":
        disp = (scalars["Disposition"] if "Disposition" in scalars else pd.Series("", index=scalars.index))
        disp = disp.astype(str).str.strip().str.upper()
        labels = disp.where(disp.isin(CLASSES[dataset]))
        reasons = np.where(labels.isna(), "class " + disp + f" not used (only {'/'.join(CLASSES[dataset])})", "")
        meta["shard_disposition_counts"] = disp.value_counts().to_dict()
    else:
        labels, reasons, meta["label_matches_ambiguous"] = labels_from_catalog(
            scalars["tic_id"], scalars["Period"], labels_from)
        labels = pd.Series(labels, dtype=object)
        if "Disposition" in scalars:
            table = pd.crosstab(scalars["Disposition"].astype(str), labels.fillna("unmatched"))
            meta["shard_disposition_vs_catalog_label"] = {
                str(lab): {str(d): int(n) for d, n in col.items()} for lab, col in table.items()}
    if not require_labels:
        meta["unlabelled_kept"] = int(labels.isna().sum())
        labels = labels.fillna("")
        reasons = np.where(labels.to_numpy() == "", "", reasons)
    for reason, count in pd.Series(reasons[reasons != ""]).value_counts().items():
        dropped[str(reason)] = int(count)
    keep = labels.notna().to_numpy()
    scalars = scalars[keep].reset_index(drop=True)
    views = {k: np.asarray(v)[keep] for k, v in views.items()}
    labels = labels[keep].reset_index(drop=True).astype(str)

    # Sign and normalisation.
    sign = detect_view_sign(views, half)
    contrast = central_contrast(_local_view(views), half) * sign
    meta["view_sign_detected"] = sign
    meta["view_sign_note"] = ("transit is a dip in the shards" if sign == 1
                              else "transit is a peak in the shards: flipped")
    meta["rows_whose_local_centre_is_not_a_dip_after_sign"] = int(np.sum(contrast >= 0))
    period = pd.to_numeric(scalars["Period"], errors="coerce").to_numpy(np.float64)
    duration = pd.to_numeric(scalars["Duration"], errors="coerce").to_numpy(np.float64)
    if renormalise:
        unified, norm_info = unify_views(views, sign, period, duration, half)
        meta["normalisation_floor_used"] = norm_info
    else:
        unified = {VIEW_KEYS.get(k, k): (sign * np.asarray(v)).astype(np.float32) for k, v in views.items()}
    unified = {k: unified[k] for k in ("global", "local", "secondary") if k in unified} | {
        k: v for k, v in unified.items() if k not in ("global", "local", "secondary")}

    # Identifiers.
    tic = pd.to_numeric(scalars["tic_id"], errors="coerce").astype("int64")
    row = pd.to_numeric(scalars["row_id"], errors="coerce").astype("int64")
    prefix = {"vetting": "av", "toi": "toiv", "dr24": "dr24"}[dataset]
    feats = pd.DataFrame({
        "signal_id": prefix + "-" + tic.astype(str) + "-" + row.astype(str),
        "star_id": ("KIC " if dataset == "dr24" else "TIC ") + tic.astype(str),
        "row_id": row, "tic_id": tic, "label": labels, "mission": MISSION[dataset], "provenance": PROVENANCE[dataset],
        "split": scalars["split"].astype(str), "source_file": scalars["source_file"].astype(str),
        "record_index": scalars["record_index"].astype("int64"),
    })
    if not feats["signal_id"].is_unique:  # pragma: no cover - dedupe above guarantees it
        raise ValueError("signal_id is not unique")

    # Allowed scalars.
    clipped: dict[str, int] = {}
    units: dict[str, str] = {}
    for raw_name, (col, unit, _meaning) in SCALAR_MAPS[dataset].items():
        if raw_name not in scalars:
            continue
        feats[col], n_bad = _clip_absurd(scalars[raw_name])
        units[col] = unit
        if n_bad:
            clipped[col] = n_bad

    view_feats = compute_view_features(unified, period, duration, half, views_share_scale=False)
    derived = derived_scalar_features(feats["period_days"], feats["duration_days"], feats.get("snr"),
                                      feats.get("tmag_rescaled"), n_rows=len(feats))
    feats = pd.concat([feats, view_feats, derived], axis=1)
    if dataset == "dr24":  # the records carry the physical DR24 columns (stellar values included)
        from exo_assets.external.physics import ALL_PHYSICS_COLUMNS, PHYSICS_SCHEMA, dr24_physics

        feats = pd.concat([feats, dr24_physics(scalars)], axis=1)
        units.update({c: PHYSICS_SCHEMA.get(c, ("as in DR24", ""))[0] for c in ALL_PHYSICS_COLUMNS})
    units.update({c: VIEW_FEATURE_SCHEMA[c][0] for c in VIEW_FEATURE_COLUMNS})
    units.update({c: DERIVED_SCALAR_SCHEMA[c][0] for c in DERIVED_SCALAR_COLUMNS})

    classes = CLASSES[dataset]
    meta.update({
        "signals": int(len(feats)),
        "dropped": dropped,
        "class_counts": {c: int((feats["label"] == c).sum()) for c in classes},
        "clipped_to_nan_abs_gt_1e6": clipped,
        "channels": list(unified),
        "view_bins": {k: int(v.shape[1]) for k, v in unified.items()},
        "channels_absent": [c for c in ("global", "local", "odd", "even", "secondary") if c not in unified],
        "units": units,
        "splits": feats["split"].value_counts().to_dict(),
    })
    assert_no_leakage(model_feature_columns(feats))
    return ExternalSet(feats, unified, list(classes), meta)


def load_external(paths_or_folder, dataset: str | None = None, labels_from=None,
                  renormalise: bool = True, require_labels: bool = True) -> ExternalSet:
    """`read_shards` + `to_project_schema`; a folder argument means its train/val/test shards."""
    if isinstance(paths_or_folder, (str, Path)) and Path(paths_or_folder).is_dir():
        paths = shard_paths(paths_or_folder)
    elif isinstance(paths_or_folder, (str, Path)):
        paths = [str(paths_or_folder)]
    else:
        paths = list(paths_or_folder)
    scalars, views = read_shards(paths)
    return to_project_schema(scalars, views, dataset, labels_from, renormalise, require_labels)


# ---------------------------------------------------------------------------------------- leakage


def model_feature_columns(features_df: pd.DataFrame, columns=None) -> list[str]:
    """Columns a model may use: `ALLOWED_SCALARS`, `VIEW_FEATURE_COLUMNS` and `DERIVED_SCALAR_COLUMNS`
    present in `features_df` (columns that are NaN in every row are left out when `columns` is None).

    Args:
        features_df: an `ExternalSet.features` table.
        columns: explicitly requested columns; None -> every allowed column present.

    Raises:
        LeakageError: a requested column is forbidden (ids, sectors, camera/ccd, epoch, toi_id,
            disposition, label, ...) or matches the catalog leakage patterns.
        ValueError: a requested column is neither allowed nor present.
    """
    from exo_assets.external.physics import ALL_PHYSICS_COLUMNS

    allowed = [*ALLOWED_SCALARS, *VIEW_FEATURE_COLUMNS, *DERIVED_SCALAR_COLUMNS, *ALL_PHYSICS_COLUMNS]
    if columns is None:
        return [c for c in allowed if c in features_df.columns and features_df[c].notna().any()]
    columns = list(columns)
    forbidden_lower = {f.lower() for f in FORBIDDEN_COLUMNS}
    forbidden = [c for c in columns if str(c).lower() in forbidden_lower]
    forbidden += [c for c in leakage_columns(columns) if c not in forbidden]
    if forbidden:
        raise LeakageError(f"columns that must never be model features were requested: {forbidden}")
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise ValueError(f"not allowed as model features (not an allowed scalar or view feature): {unknown}")
    absent = [c for c in columns if c not in features_df.columns]
    if absent:
        raise ValueError(f"requested feature columns absent from the table: {absent}")
    return columns
