"""PNG encoding (Dagster-free): the project's one Figure -> PNG encoder, palette thumbnails for the Dagster
UI, and inline Markdown images. matplotlib is imported only by the functions that draw."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported by the functions that draw
    from matplotlib.figure import Figure


#: The first 8 bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def to_png(fig: Figure, dpi: int = 100, compress_level: int | None = None) -> bytes:
    """PNG bytes of a Figure at `dpi` (pixel size = figure size in inches x dpi, no tight cropping).

    `compress_level` (0-9, zlib) trades size for speed; None is Pillow's default (6). The API's plots use 1.
    """
    buf = io.BytesIO()
    kwargs: dict[str, Any] = (
        {"pil_kwargs": {"compress_level": compress_level}} if compress_level is not None else {}
    )
    fig.savefig(buf, format="png", dpi=dpi, **kwargs)
    return buf.getvalue()


def palette_png(img, colors: int) -> bytes:
    """A PIL image as an optimised PNG with a `colors`-entry palette."""
    from PIL import Image

    out = io.BytesIO()
    img.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


def small_png(draw, size: tuple[float, float], dpi: int = 72, colors: int = 64) -> bytes:
    """PNG of a small constrained-layout figure drawn by `draw(fig)`, with a `colors`-entry palette
    (a light image for Dagster UI metadata); size in inches."""
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=size, layout="constrained")
    draw(fig)
    with Image.open(io.BytesIO(to_png(fig, dpi))) as img:
        return palette_png(img, colors)


def shrink_png(png: bytes, width: int, colors: int = 64) -> bytes:
    """The PNG scaled down to `width` pixels (aspect kept) with a `colors`-entry palette: a light
    thumbnail for Dagster UI metadata (~4x fewer bytes). Unchanged when already that narrow."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        if img.width <= width:
            return png
        height = max(1, round(img.height * width / img.width))
        return palette_png(img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), colors)


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that embeds a PNG inline (data URI), for Dagster metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def example_views_png(
    title: str, global_views: np.ndarray, local_views: np.ndarray, names: list[str]
) -> bytes:
    """`reporting.figures.views_grid_figure` as PNG bytes (90 dpi): global and local views of a few
    signals."""
    from exo_assets.reporting.figures import views_grid_figure

    return to_png(views_grid_figure(title, global_views, local_views, names), dpi=90)
