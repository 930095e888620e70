"""Trapezoid fit of the folded transit: depth, T14, V-shape (ingress + egress over T14) and the
transit centre used to refine a stale epoch."""

from __future__ import annotations

import numpy as np

from exo_assets.science.diagnostics.folding import FitData
from exo_assets.science.diagnostics.physics import trapezoid


def _fit_trapezoid(x, y, sig, duration, offsets):
    from scipy.optimize import least_squares

    ns = offsets.size
    xs = (x[:, None] + offsets[None, :]).ravel()

    def resid(p):
        f0, tc, depth, t14, v = p
        model = trapezoid(xs, tc, depth, t14, v)
        if ns > 1:
            model = model.reshape(-1, ns).mean(axis=1)
        return (y - f0 * model) / sig

    core = np.abs(x) < 0.25 * duration
    depth0 = 1.0 - float(np.median(y[core])) if core.any() else 1e-4
    depth0 = float(np.clip(depth0, 1e-6, 0.9))
    hi_t14 = 3.5 * duration
    p0 = [1.0, 0.0, depth0, duration, 0.3]
    lo = [0.5, -0.5 * duration, 0.0, 0.1 * duration, 0.0]
    hi = [1.5, 0.5 * duration, 1.0, hi_t14, 1.0]
    x_scale = [1e-4, 0.05 * duration, max(depth0, 1e-5), 0.1 * duration, 0.1]
    res = least_squares(resid, p0, bounds=(lo, hi), x_scale=x_scale, max_nfev=300)
    return res


def measure_trapezoid(fit: FitData, D, out, reasons):
    """Fill the trapezoid columns; return (centre offset, depth, SNR) or None."""
    cols = ["trap_depth_ppm", "trap_t14_days", "v_shape", "epoch_offset_days"]
    try:
        res = _fit_trapezoid(fit.x, fit.y, fit.sig, D, fit.offsets)
    except Exception as exc:  # noqa: BLE001 - any numerical failure becomes a reason
        for c in cols:
            out[c] = float("nan")
            reasons[c] = f"trapezoid fit failed ({type(exc).__name__}: {exc})"
        return None
    f0, tc, depth, t14, v = (float(p) for p in res.x)
    if not res.success:
        for c in cols:
            out[c] = float("nan")
            reasons[c] = f"trapezoid fit did not converge ({res.message})"
        return None
    out["trap_depth_ppm"] = depth * 1e6
    out["trap_t14_days"] = t14
    out["v_shape"] = v
    inside = np.abs(fit.x) < 0.5 * D
    sig_mean = float(np.sqrt(1.0 / np.sum(1.0 / fit.sig[inside] ** 2))) if inside.any() else float("inf")
    return tc, depth, depth / sig_mean if sig_mean > 0 else 0.0
