"""The table `exo-predict` prints: one row per signal (star, signal, class, P(CP) / P(PC) / P(FP), decision,
flags), errors as rows, and a notice when a model was trained on simulated data; for TESS curves also the
block of the model trained on real labels (PC / EB / J, `real_label_lines`). Pure functions on the
API's result dicts (no heavy imports: `exo-predict --help` stays fast).
"""

from __future__ import annotations

from collections.abc import Iterable

COLUMNS = ("star", "signal", "class", "P(CP)", "P(PC)", "P(FP)", "decision", "flags")
SIMULATED_NOTICE = (
    "NOTICE: simulated model: these probabilities come from models trained on the embedded "
    "simulator, not real-world accuracy."
)


def _p(probs: dict | None, cls: str) -> str:
    if not probs or probs.get(cls) is None:
        return "-"
    return f"{float(probs[cls]):.3f}"


def result_row(result: dict) -> tuple[str, ...]:
    """One table row of a prediction (or error) dict of the API contract."""
    star = str(result.get("star_id", ""))
    signal = str(result.get("signal_id", "")) or "-"
    if "error" in result:
        err = result["error"]
        return (star, signal, "-", "-", "-", "-", f"error {err.get('code', '')}", "-")
    decision = result.get("decision") or {}
    probs = result.get("probs")
    flags = ",".join(result.get("flags") or []) or "-"
    return (
        star,
        signal,
        str(result.get("prediction") or "-"),
        _p(probs, "CP"),
        _p(probs, "PC"),
        _p(probs, "FP"),
        str(decision.get("label", "")),
        flags,
    )


def format_table(rows: list[tuple[str, ...]], columns: tuple[str, ...] = COLUMNS) -> str:
    """Left-aligned text columns separated by two spaces, with a header and a rule."""
    widths = [
        max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(c) for i, c in enumerate(columns)
    ]

    def line(cells: Iterable[object]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(columns), line("-" * w for w in widths), *(line(r) for r in rows)])


REAL_LABEL_COLUMNS = ("star", "signal", "class", "P(PC)", "P(EB)", "P(J)", "val PC-AP / P@R0.82 / triage-AP")


def real_label_lines(results: list[dict]) -> list[str]:
    """The block of the model trained on real TESS labels (`real_label_model` of TESS results): a table
    of PC / EB / J probabilities with the star-disjoint validation figures, or why there is none."""
    blocks = [(r, r["real_label_model"]) for r in results if isinstance(r.get("real_label_model"), dict)]
    if not blocks:
        return []
    rows, notes, trained = [], [], ""
    for r, b in blocks:
        who = (str(r.get("star_id", "")), str(r.get("signal_id", "")) or "-")
        if b.get("status") != "ok":
            notes.append(f"  {' '.join(who)}: {b.get('status', '')}: {b.get('reason', '')}")
            continue
        trained = trained or b.get("trained_on", "")
        v = b.get("validation") or {}
        fig = " / ".join(
            "-" if v.get(k) is None else f"{float(v[k]):.2f}"
            for k in ("vetting_ap", "vetting_precision_at_recall_0.82", "triage_ap")
        )
        probs = [_p(b.get("probs"), c) for c in ("PC", "EB", "J")]
        rows.append((*who, str(b.get("prediction", "-")), *probs, fig))
        if b.get("note"):
            notes.append(f"  {' '.join(who)}: note: {b['note']}")
    out = ["", "real-label model (trained on real TESS labels" + (f": {trained}" if trained else "") + "):"]
    if rows:
        out.append(format_table(rows, REAL_LABEL_COLUMNS))
    return out + notes


def format_results(results: list[dict]) -> str:
    """The printed answer: the table, the reasons of insufficient_data rows and errors, and the notice."""
    out = [format_table([result_row(r) for r in results])]
    notes = []
    for r in results:
        who = f"{r.get('star_id', '')} {r.get('signal_id', '')}".strip()
        if "error" in r:
            notes.append(f"  {who}: {r['error'].get('message', '')}")
        elif (r.get("decision") or {}).get("label") == "insufficient_data":
            notes.append(f"  {who}: insufficient data: {r['decision'].get('reason', '')}")
    if notes:
        out += ["", *notes]
    if any(r.get("provenance") == "simulated" for r in results):
        out += ["", SIMULATED_NOTICE]
    out += real_label_lines(results)  # after the notice: that one is about the mission model only
    return "\n".join(out)
