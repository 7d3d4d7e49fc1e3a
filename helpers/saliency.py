"""Tools for judging saliency maps: rank correlation, area under a curve, and a figure of maps.

The interpretability assignment asks students to write the explanation methods themselves;
what lives here is the measuring and drawing around them, so that every notebook measures
"how similar are two maps" and "how fast does a curve fall" the same way.
"""
from __future__ import annotations

import contextlib
import io
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .plotting import new_figure


def _rows(a) -> np.ndarray:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return a.reshape(len(a), -1).astype(np.float64)


def rank_correlation(a, b) -> np.ndarray:
    """Spearman rank correlation between ``a[i]`` and ``b[i]`` for every ``i``, as an array.

    ``a`` and ``b`` hold one map per row (any shape after the first axis, e.g. [N, H, W]).
    Tied values get their average rank, as in ``scipy.stats.spearmanr``. A constant map has
    no ranking: its correlation is 1.0 with an identical map and 0.0 with anything else.
    """
    ra, rb = _rows(a), _rows(b)
    if ra.shape != rb.shape:
        raise ValueError(f"maps of different shapes: {tuple(np.shape(a))} and {tuple(np.shape(b))}")
    out = np.empty(len(ra))
    from scipy.stats import rankdata  # here, not at the top: importing scipy.stats costs every graded kernel 0.4 s

    for i, (x, y) in enumerate(zip(ra, rb)):
        x, y = rankdata(x), rankdata(y)
        x, y = x - x.mean(), y - y.mean()
        denom = np.sqrt((x * x).sum() * (y * y).sum())
        out[i] = (x * y).sum() / denom if denom > 0 else float(np.array_equal(ra[i], rb[i]))
    return out


def curve_auc(fractions: Sequence[float], values) -> np.ndarray | float:
    """Area under ``values`` over ``fractions`` (trapezoid rule), divided by the fractions' range.

    The result is the curve's average height, in the units of ``values`` (e.g. a class
    probability, so 0 to 1). ``values`` may be one curve [F] (a float comes back) or one curve
    per row [N, F] (an array of N areas comes back).
    """
    x = np.asarray(fractions, dtype=np.float64)
    y = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    y = y.astype(np.float64)
    if x.ndim != 1 or len(x) < 2 or y.shape[-1] != len(x):
        raise ValueError(f"need at least 2 fractions and values ending in that axis; got {x.shape} and {y.shape}")
    width = x[-1] - x[0]
    if width <= 0:
        raise ValueError("fractions must increase")
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2.0 (an old Colab) names it trapz
    area = trapezoid(y, x, axis=-1) / width
    return float(area) if np.ndim(area) == 0 else area


@contextlib.contextmanager
def lime_quietly() -> Iterator[None]:
    """Run ``lime`` without its progress bar.

    ``lime_image`` 0.2 wraps its sampling loop in ``tqdm`` with no way to turn it off; in a
    notebook that draws a widget per explanation, elsewhere it writes to stderr (which costs
    points in graded cells). Inside this block the bar is a silent pass-through.
    Grading kernels also start with ``TQDM_DISABLE=1``, but tqdm reads that variable once, when it
    is imported, so a student's running kernel cannot switch the bar off that way.
    """
    from lime import lime_image

    original = lime_image.tqdm
    lime_image.tqdm = lambda iterable, *args, **kwargs: iterable
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        lime_image.tqdm = original


def show_saliency(images, maps: Mapping[str, object], row_labels: Sequence[str] | None = None,
                  signed: Sequence[str] = (), size: float = 1.6, title: str | None = None) -> Figure:
    """One row per image: the image, then each map in ``maps`` (name -> [N, H, W] or [N, C, H, W]).

    Maps named in ``signed`` are drawn on a symmetric red (positive) / blue (negative) scale,
    the others (magnitudes) from black to yellow. Each panel is scaled on its own.
    """
    imgs = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    arrays = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in maps.items()}
    n, cols = len(imgs), 1 + len(arrays)
    fig = new_figure(figsize=(size * cols, size * n + 0.3))
    axes = fig.subplots(n, cols, squeeze=False)
    for i in range(n):
        img = imgs[i]
        axes[i, 0].imshow(img.mean(0) if img.ndim == 3 else img, cmap="gray")
        axes[i, 0].set_title(row_labels[i] if row_labels is not None else "input", fontsize=8)
        for j, (name, arr) in enumerate(arrays.items(), start=1):
            m = arr[i].sum(0) if arr[i].ndim == 3 else arr[i]
            if name in signed:
                lim = float(np.abs(m).max()) or 1.0
                axes[i, j].imshow(m, cmap="bwr", vmin=-lim, vmax=lim)
            else:
                axes[i, j].imshow(m, cmap="inferno")
            if i == 0:
                axes[i, j].set_title(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
