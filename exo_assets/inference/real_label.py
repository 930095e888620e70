"""The model trained on real TESS labels (the vetting set, PC / EB / J) applied to an uploaded curve.

The `external_benchmark` asset (partition "vetting") stores the booster (+ CNN members when used),
the blend's temperatures / alpha, the feature columns and the star-disjoint validation figures
(`artifacts.real_label_files`). Here one cleaned, detrended TESS curve becomes one row of the
training table (`real_label_row`), exactly as `tfrecord_reader.to_project_schema` built the shards'
rows, and the stored model scores it (`RealLabelModel.predict`); `real_label_block` is the labelled
block of /api/predict and exo-predict.

Inputs of the row, and how each is obtained from the curve (units as in the training table):

* views: `vetting_views` (global 201 / local 61 / secondary 61 bins; 30-minute resampling as the QLP
  curves of sectors 1-5), then the reader's `unify_views` with the dip sign (+1);
* period_days, duration_days (d): the request's ephemeris (duration: given / catalog / BLS);
* snr: QLP-like S/N = depth / sigma_30min x sqrt(number of in-transit 30-min points) (approximation of
  QLP's BLS S/N, computed on the 30-min resampled cleaned curve);
* qingress: half the V-shape of a trapezoid fitted to the 30-min resampled folded curve (no
  supersampling, like a fit to QLP's 30-min data): ingress time / T14;
* transit_depth_rescaled, tmag_rescaled: the shards' affine rescalings (SOURCES.md / tfrecord_reader)
  of the trapezoid depth (ppm) and the TESS magnitude (request > catalog > FITS header);
* depth_change: QLP's statistic is not reproduced: NaN (LightGBM's missing-value branch);
* physics (`external.physics.physical_features`): depth_ppm = the trapezoid depth, the star's radius,
  log g, Teff (request > catalog > header; mass imputed physically as in training).
"""

from __future__ import annotations

#: The shards' view format (what the served model was trained on; `vetting_views` reproduces it).
VETTING_VIEW_FORMAT: dict = {
    "global_bins": 201, "local_bins": 61, "secondary_bins": 61,
    "global": "phase [-P/2, P/2), bins 1.2 P / 201 wide", "local": "+-2 durations, bins 0.16 D wide",
    "secondary": "+-4 durations around the strongest box deficit outside the primary, bins 0.16 D wide",
    "cadence": "resampled to 30 min (QLP full-frame cadence, sectors 1-5)",
    "normalisation": "median 0, minimum -1 (Yu et al. 2019), then the reader's unify_views",
    "function": "exo_assets.external.vetting_views.vetting_views",
}
#: What each external set is, for the block's `trained_on` line.
SET_DESCRIPTIONS: dict[str, str] = {
    "vetting": "TESS QLP vetting set (Yu et al. 2019), sectors 1-5",
    "toi": "TESS TOI views (Hultstrand/TESS_ExoFinder), sectors 1-48",
    "dr24": "Kepler DR24 TCEs (Shallue & Vanderburg 2018)",
}


def served_view_format(dataset: str) -> dict:
    """The view format stored with a real-label model of `dataset` (only the vetting one is served)."""
    if dataset == "vetting":
        return dict(VETTING_VIEW_FORMAT)
    return {"note": f"{dataset} views (reader format); not served"}


def trained_on_text(dataset: str, n: dict) -> str:
    """E.g. "TESS QLP vetting set (Yu et al. 2019), 13,000 training signals, sectors 1-5"."""
    desc = SET_DESCRIPTIONS.get(dataset, dataset)
    head, _, tail = desc.rpartition(", ")
    counts = f"{int(n.get('train', 0)):,} training signals (+{int(n.get('val', 0)):,} validation)"
    return f"{head}, {counts}, {tail}" if head else f"{desc}, {counts}"
