"""Figures for the Dagster UI and reports (matplotlib, Agg backend), returned as PNG bytes."""

from __future__ import annotations

import base64
import io

import numpy as np


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def example_views_png(title: str, global_views: np.ndarray, local_views: np.ndarray, names: list[str]) -> bytes:
    """Global (left) and local (right) views of a few signals, one row per signal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(names))
    fig, axes = plt.subplots(n, 2, figsize=(9, 1.9 * n + 0.6), squeeze=False)
    for i in range(n):
        ax_g, ax_l = axes[i]
        if i < len(names):
            g, l = global_views[i], local_views[i]
            ax_g.plot(np.linspace(-0.5, 0.5, g.size), g, ".", ms=1.5, color="0.2")
            ax_l.plot(np.linspace(-4, 4, l.size), l, ".-", ms=2.5, lw=0.6, color="C0")
            ax_g.set_ylabel(names[i], fontsize=8)
        ax_g.set_xlim(-0.5, 0.5)
        ax_l.set_xlim(-4, 4)
    axes[0, 0].set_title("global view (phase)", fontsize=9)
    axes[0, 1].set_title("local view (transit durations)", fontsize=9)
    axes[-1, 0].set_xlabel("phase")
    axes[-1, 1].set_xlabel("time from mid-transit / duration")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that embeds a PNG inline (data URI), for Dagster metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
