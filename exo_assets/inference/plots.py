"""PNG plots of one prediction (matplotlib, Agg canvas, no pyplot state: safe in server threads).

Four figures from the arrays of `response.plot_data`: the global phase fold with the Mandel-Agol
model, the fitted local fold with its model, the residuals, and the model's reliability diagram
with this prediction's confidence marked. Written atomically under `<media_dir>/plots/`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exo_assets.reporting.png import to_png
from exo_assets.storage import atomic_write_bytes

DPI = 80
SIZE = (6.4, 3.6)


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    # fixed margins: tight_layout would draw every figure twice (it was ~40% of the plotting time)
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.15, top=0.88)
    return fig, fig.add_subplot(111)


def _png(fig) -> bytes:
    return to_png(fig, DPI, compress_level=1)  # fast zlib level: the plots are made per request


def _arr(v):
    return None if v is None else np.asarray(v, dtype=np.float64)


def render_plots(data: dict, title: str, confidence: float | None = None) -> dict[str, bytes]:
    """{"phase_global", "phase_local", "residuals", "reliability"} -> PNG bytes."""
    out = {}
    fig, ax = _figure()
    ph = data["phase"]
    ax.plot(_arr(ph["x"]), _arr(ph["y"]), ".", ms=2, color="0.3", label="binned flux")
    if ph.get("y_model") is not None:
        ax.plot(_arr(ph["x"]), _arr(ph["y_model"]), "-", color="C3", lw=1, label="Mandel-Agol fit")
    ax.set(xlabel="orbital phase", ylabel="relative flux", title=title)
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="lower left")
    out["phase_global"] = _png(fig)

    fig, ax = _figure()
    loc = data["local"]
    if loc.get("x") is not None:
        x = _arr(loc["x"]) * 24.0
        ax.errorbar(x, _arr(loc["y"]), yerr=_arr(loc.get("y_err")), fmt=".", ms=3, color="0.3", elinewidth=0.5,
                    label="binned flux")
        if loc.get("y_model") is not None:
            ax.plot(x, _arr(loc["y_model"]), "-", color="C3", lw=1.2, label="Mandel-Agol fit")
        ax.legend(fontsize=7, loc="lower left")
    ax.set(xlabel="hours from mid-transit", ylabel="relative flux", title="transit (fit window)")
    out["phase_local"] = _png(fig)

    fig, ax = _figure()
    res = data["residuals"]
    if res.get("r") is not None:
        ax.plot(_arr(res["x"]) * 24.0, _arr(res["r"]), ".", ms=3, color="C0")
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set(xlabel="hours from mid-transit", ylabel="residual (ppm)", title="residuals of the Mandel-Agol fit")
    out["residuals"] = _png(fig)

    fig, ax = _figure()
    rel = data["reliability"]
    ax.plot([0, 1], [0, 1], "--", color="0.6", lw=0.8, label="perfect calibration")
    if rel.get("confidence"):
        ax.plot(rel["confidence"], rel["accuracy"], "o-", color="C2", ms=4, label="model (out-of-fold)")
    if confidence is not None:
        ax.axvline(confidence, color="C3", lw=1, label=f"this prediction ({confidence:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top probability)", ylabel="accuracy",
           title="reliability")
    ax.legend(fontsize=7, loc="upper left")
    out["reliability"] = _png(fig)
    return out


def write_plots(data: dict, media_dir: Path, stem: str, title: str, media_url: str = "/media",
                confidence: float | None = None) -> dict[str, str]:
    """Render and write the PNGs as `<media_dir>/plots/<stem>_<kind>.png`; returns kind -> URL path."""
    folder = Path(media_dir) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    urls = {}
    for kind, png in render_plots(data, title, confidence).items():
        name = f"{stem}_{kind}.png"
        atomic_write_bytes(folder / name, png)
        urls[kind] = f"{media_url.rstrip('/')}/plots/{name}"
    return urls
