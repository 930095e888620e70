"""PDF assembly with matplotlib's `PdfPages`: landscape pages (US Letter, 11 x 8.5 in) with a numbered
section header, a body region the report figures draw into, and a footer (report, provenance,
page n of N).

A page that is also a figure file (`Page.png_name`) is drawn once with constrained layout for the
PDF, then its layout is frozen and the same figure is saved as PNG (without the page number), so
each figure costs one layout pass. PNGs are exactly PAGE_SIZE x dpi pixels.

Text stays text (matplotlib's default Type 3 fonts, which embed several times faster than TrueType
subsets), so it can be searched and extracted (e.g. with pypdf).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from exo_assets.reporting.png import to_png

PAGE_SIZE: tuple[float, float] = (11.0, 8.5)


@dataclass
class Page:
    """One PDF page: its header text, a function drawing the body into a SubFigure and, when the page
    is also stored as a figure file, the PNG file name."""

    header: str
    draw: Callable
    png_name: str | None = None


def text_block(sub, blocks: list[tuple[str, list[str], bool]], top: float = 0.97, fontsize: float = 9.0,
               left: float = 0.03) -> float:
    """Write headed blocks of text lines into a (sub)figure, top down; returns the y (figure
    fraction) below the last line.

    Args:
        blocks: (heading or "", lines, monospace).
    """
    height_pt = sub.bbox.height / sub.figure.dpi * 72
    step = fontsize * 1.45 / height_pt
    y = top
    for heading, lines, mono in blocks:
        if heading:
            sub.text(left, y, heading, fontsize=fontsize + 1.5, weight="bold", va="top", ha="left")
            y -= step * 1.5
        if lines:  # one Text per block (each line is still its own text run in the PDF)
            sub.text(left + 0.01, y, "\n".join(lines), fontsize=fontsize, va="top", ha="left", linespacing=1.45,
                     family="DejaVu Sans Mono" if mono else "DejaVu Sans")
            y -= step * len(lines)
        y -= step * 0.6
    return y


def render_pdf(pages: list[Page], title: str, footer: str, metadata: dict | None = None,
               png_dpi: int = 100) -> tuple[bytes, dict[str, bytes]]:
    """Render pages to PDF bytes, plus the PNG files of the pages that have a `png_name`.

    Each page: header (bold, top), body (drawn by `page.draw(subfigure)`), footer "<footer>" and
    "page n of N" (the page number is left out of the PNG).
    """
    buf = io.BytesIO()
    pngs: dict[str, bytes] = {}
    with matplotlib.rc_context({"pdf.fonttype": 3, "pdf.compression": 6}):
        with PdfPages(buf, metadata={"Title": title, "Creator": "exo-assets", **(metadata or {})}) as pdf:
            for n, page in enumerate(pages, start=1):
                fig = Figure(figsize=PAGE_SIZE, layout="constrained")
                head, body, foot = fig.subfigures(3, 1, height_ratios=[0.55, 10, 0.3])
                head.text(0.02, 0.5, page.header, fontsize=15, weight="bold", va="center", ha="left")
                page.draw(body)
                foot.text(0.02, 0.5, footer, fontsize=7.5, color="0.35", va="center", ha="left")
                number = foot.text(0.98, 0.5, f"page {n} of {len(pages)}", fontsize=7.5, color="0.35", va="center",
                                   ha="right")
                pdf.savefig(fig)
                if page.png_name:
                    fig.set_layout_engine("none")
                    number.set_visible(False)
                    pngs[page.png_name] = to_png(fig, png_dpi)
    return buf.getvalue(), pngs
