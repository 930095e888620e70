"""The per-mission report and the cross-mission summary built from small synthetic inputs: PDF sections
and pages read back with pypdf, PNG figures of the page size, and report numbers equal to metrics.json."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pypdf import PdfReader

from exo_assets.reporting import SECTIONS, SUMMARY_SECTIONS, ReportOptions, build_report, build_summary
from exo_assets.reporting.pdf import PAGE_SIZE
from exo_assets.reporting.png import PNG_SIGNATURE
from exo_assets.reporting.tables import fmt
from exo_assets_tests.reporting.pdf_text import expected_rows, metric_rows
from exo_assets_tests.reporting.synthetic import CLASSES, synthetic_inputs

EXPECTED_FIGURES = {
    "class_balance.png",
    "confusion.png",
    "reliability.png",
    "roc_pr.png",
    "importance.png",
    "shap_summary.png",
    "vetting_flags.png",
    "examples.png",
}


@pytest.fixture(scope="module")
def built():
    inputs = synthetic_inputs()
    report = build_report(inputs, ReportOptions(png_dpi=60, shap_rows=40, examples_per_group=2))
    reader = PdfReader(io.BytesIO(report.pdf))
    return inputs, report, [page.extract_text() for page in reader.pages]


def test_pdf_has_every_section_in_order_and_the_expected_pages(built):
    _, report, pages = built
    assert len(pages) == report.pages == 10  # 9 sections; section 7 has an importance and a SHAP page
    for text, header in zip(pages, report.page_headers, strict=True):
        assert header in text
    numbers = [int(h.split(".")[0]) for h in report.page_headers]
    assert numbers == sorted(numbers) and set(numbers) == set(range(1, 10))
    joined = "\n".join(pages)
    for section in SECTIONS:
        assert section in joined
    # contents on page 1 point at the right pages
    for section in SECTIONS:
        listed = re.search(rf"{re.escape(section)}\s+page (\d+)", pages[0])
        assert listed and section in report.page_headers[int(listed.group(1)) - 1]


def test_every_page_is_labelled_simulated(built):
    _, _, pages = built
    assert all("simulated" in text for text in pages)
    assert "not real-world accuracy" in pages[0]


def test_printed_metrics_equal_metrics_json_and_blend_attrs(built):
    inputs, report, pages = built
    doc = json.loads(report.metrics_json())
    assert doc["metrics"] == inputs.blend_attrs["metrics"]
    rows = metric_rows(pages[2])
    assert len(rows) == 8 and rows == expected_rows(doc["metrics"])
    # spot check against the raw dict, not only through the shared formatter
    hold = doc["metrics"]["holdout"]["blend_vetting"]
    assert rows[("holdout", "blend+vetting")][1] == f"{hold['macro_f1']:.4f}"
    # per-class recall of the final stage and the blend weight are printed from the same dicts
    recall_cp = fmt(doc["metrics"]["holdout"]["blend_vetting"]["per_class"]["CP"]["recall"])
    assert re.search(rf"holdout\s+CP\s+\S+\s+{re.escape(recall_cp)}", pages[2])
    assert f"blend alpha = {fmt(doc['blend']['alpha'])}" in pages[2]


def test_figures_are_nonempty_pngs_of_the_page_size(built):
    _, report, _ = built
    assert set(report.figures) == EXPECTED_FIGURES
    want = (round(PAGE_SIZE[0] * 60), round(PAGE_SIZE[1] * 60))
    for name, png in report.figures.items():
        assert png.startswith(PNG_SIGNATURE), name
        with Image.open(io.BytesIO(png)) as img:
            assert img.size == want, name
            pixels = np.asarray(img.convert("L"), dtype=float)
        # drawn on: plenty of non-white pixels, not a blank page
        assert (pixels < 200).mean() > 0.01, name
    assert json.loads(report.metrics_json())["figures"]["roc_pr.png"] == {
        "dpi": 60,
        "inches": list(PAGE_SIZE),
    }


def test_provenance_page_reports_counts_dates_and_catalog_version(built):
    inputs, _, pages = built
    text = pages[0]
    assert "NASA Exoplanet Archive export 2025-10-04" in text
    assert f"{len(inputs.catalog)} on" in text
    assert "trained" in text and "2025-01-01T00:00:00+00:00" in text
    assert "holdout signals" in text and "15 on" in text


def test_class_balance_and_vetting_tables(built):
    inputs, report, _ = built
    balance = report.tables["class_balance"].set_index("stage")
    assert balance.loc["catalog", "total"] == len(inputs.catalog)
    assert balance.loc["features ok", "total"] == 75 and balance.loc["with light curve", "total"] == 75
    assert balance.loc["selected", "total"] == 76
    assert balance.loc["train", ["CP", "PC", "FP"]].tolist() == [20, 20, 20]
    rates = report.tables["vetting_flags"].set_index("flag")
    # the synthetic flag k is set on every (k + 2)-th row of each split
    first = rates.index[0]
    oof, hold = inputs.blend_tables["oof"], inputs.blend_tables["holdout"]
    both = pd.concat([oof, hold])
    assert rates.loc[first, "n_flagged"] == int(both[f"flag_{first}"].sum()) == 30 + 8
    fp = both["label"] == "FP"
    assert rates.loc[first, "rate_FP"] == pytest.approx(both.loc[fp, f"flag_{first}"].mean())


def test_roc_curve_drawn_matches_the_stored_auc():
    """The plotted planet score is the one classification_metrics scores: the area under the drawn
    ROC curve equals the stored ROC-AUC."""
    from matplotlib.figure import Figure

    from exo_assets.reporting.figures import roc_pr_figure
    from exo_assets.reporting.tables import planet_score, stage_proba

    inputs = synthetic_inputs(seed=3)
    oof = inputs.blend_tables["oof"]
    m = inputs.blend_attrs["metrics"]["oof"]["booster"]
    is_pos = np.isin(oof["label"], ["CP", "PC"]).astype(int)
    fig = roc_pr_figure(
        {
            "OOF": {
                "booster": (
                    is_pos,
                    planet_score(stage_proba(oof, "booster", CLASSES), CLASSES),
                    m["binary_roc_auc"],
                    m["binary_pr_auc"],
                )
            }
        },
        "t",
        Figure(),
    )
    fpr, tpr = fig.axes[0].lines[0].get_data()
    assert np.trapezoid(tpr, fpr) == pytest.approx(m["binary_roc_auc"], abs=1e-12)
    assert fmt(m["binary_roc_auc"], 3) in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_examples_split_correct_and_wrong_most_confident_first():
    from exo_assets.reporting.tables import predictions, select_examples

    inputs = synthetic_inputs()
    preds = predictions(inputs.blend_tables, CLASSES)
    for label in CLASSES:
        correct, wrong = select_examples(
            preds, inputs.views, inputs.feature_table, inputs.view_config, label, 3
        )
        assert all(e.correct and e.label == label for e in correct)
        assert all(not e.correct and e.label == label for e in wrong)
        p = [e.p_predicted for e in correct]
        assert p == sorted(p, reverse=True)
    # SIG000 (P = 0.9 d, T14 = 0.2 d): the local view spans +-P/2 = +-2.25 durations, not +-4
    sig0 = preds[preds["signal_id"] == "SIG000"].iloc[0]
    chosen = select_examples(
        preds[preds["signal_id"] == "SIG000"],
        inputs.views,
        inputs.feature_table,
        inputs.view_config,
        sig0["label"],
        1,
    )
    ex = (chosen[0] or chosen[1])[0]
    assert ex.local_x[-1] == pytest.approx(0.45 / 0.2)


def test_figures_of_an_empty_holdout_say_so_instead_of_failing():
    """A partition whose holdout has no rows (tiny missions) still gets every figure."""
    from matplotlib.figure import Figure

    from exo_assets.reporting.figures import confusion_figure, reliability_figure, roc_pr_figure, to_png

    inputs = synthetic_inputs(with_holdout=False)
    oof = inputs.blend_tables["oof"]
    assert inputs.blend_attrs["metrics"]["holdout"] == {}
    empty = (np.zeros(0, int), np.zeros((0, 3)), None)
    fig = reliability_figure(
        {
            "OOF": {"booster": (np.arange(len(oof)) % 3, np.full((len(oof), 3), 1 / 3), 0.1)},
            "holdout": {"booster": empty},
        },
        "t",
        fig=Figure(figsize=(6, 4)),
    )
    assert any(t.get_text() == "no rows" for t in fig.axes[1].texts)  # top row, second column
    fig = roc_pr_figure({"holdout": {"booster": (np.zeros(0, int), np.zeros(0), None, None)}}, "t", Figure())
    assert any("not defined" in t.get_text() for t in fig.axes[0].texts)
    fig = confusion_figure([("holdout booster", None)], CLASSES, "t", ncols=1, fig=Figure())
    assert any(t.get_text() == "no rows" for t in fig.axes[0].texts)
    assert to_png(fig, 20).startswith(PNG_SIGNATURE)


def test_report_without_oof_metrics_is_a_clear_error():
    inputs = synthetic_inputs()
    inputs.blend_attrs = {**inputs.blend_attrs, "metrics": {"oof": {}, "holdout": {}}}
    with pytest.raises(ValueError, match="no OOF metrics"):
        build_report(inputs)


def test_summary_lists_present_and_missing_missions(built):
    _, report, _ = built
    kepler = {**report.metrics, "mission": "Kepler"}
    summary = build_summary({"TESS": report.metrics, "Kepler": kepler}, ["Kepler", "K2", "TESS"], png_dpi=40)
    assert summary.doc["missions"] == ["Kepler", "TESS"] and summary.doc["missing"] == ["K2"]
    assert set(summary.table["mission"]) == {"Kepler", "TESS"} and len(summary.table) == 16
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(summary.pdf)).pages]
    assert len(pages) == 2 and all(s in "\n".join(pages) for s in SUMMARY_SECTIONS)
    assert "Missing (no final_report materialized): K2" in pages[0]
    assert "simulated" in pages[0] and "simulated" in pages[1]
    m = report.metrics["metrics"]["holdout"]["blend_vetting"]
    assert re.search(
        rf"TESS\s+holdout\s+blend\+vetting\s+{m['n']}\s+{re.escape(fmt(m['macro_f1']))}", pages[0]
    )
    with Image.open(io.BytesIO(summary.png)) as img:
        assert img.size == (round(PAGE_SIZE[0] * 40), round(PAGE_SIZE[1] * 40))


def test_summary_of_no_mission_is_a_clear_error():
    with pytest.raises(ValueError, match="no mission report to summarise"):
        build_summary({}, ["Kepler", "K2", "TESS"])
