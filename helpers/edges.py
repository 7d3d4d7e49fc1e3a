"""A synthetic edge dataset the course generates itself: bright bands on a dark, noisy background.

Each 28x28 grayscale image shows one of these classes (labels in this order):

- ``horizontal``: a band of full rows, 1 to 4 pixels thick, anywhere (borders included);
- ``vertical``: the same band turned by 90 degrees (full columns);
- ``none``: background only;
- five-class variant only: ``diagonal`` (a band through the image at one of several angles
  between the axes) and ``cross`` (a horizontal and a vertical band together).

Background pixels are drawn independently from [0, 0.2]; all band pixels of one image share
one intensity drawn from [0.25, 1], so a pixel above 0.2 always belongs to a band. Options
restrict where bands may lie (``region``, for a train/validation domain shift) and apply a
fixed pixel permutation to every image (``permutation``, which destroys locality but keeps
every pixel's information). Generation is vectorised (tens of thousands of images per second
on one CPU core) and depends only on ``seed``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

SIZE = 28
CLASSES = ("horizontal", "vertical", "none")
FIVE_CLASSES = CLASSES + ("diagonal", "cross")
WIDTHS = (1, 4)
BAND = (0.25, 1.0)
BACKGROUND = (0.0, 0.2)
# Angles of diagonal bands in degrees from the horizontal axis: never 0 or 90 (those are the
# other classes), both rising and falling.
DIAGONAL_ANGLES = (30.0, 45.0, 60.0, 120.0, 135.0, 150.0)


def _band_masks(rng: np.random.Generator, n: int, size: int, region: tuple[int, int]) -> np.ndarray:
    """Boolean [n, size]: for each image, a run of 1 to 4 consecutive indices inside ``region``."""
    lo, hi = region
    width = rng.integers(WIDTHS[0], WIDTHS[1] + 1, size=n)
    width = np.minimum(width, hi - lo)
    start = lo + (rng.random(n) * (hi - lo - width + 1)).astype(int)
    idx = np.arange(size)
    return (idx >= start[:, None]) & (idx < (start + width)[:, None])


def _diagonal_masks(rng: np.random.Generator, n: int, size: int, region: tuple[int, int]) -> np.ndarray:
    """Boolean [n, size, size]: a straight band at one of DIAGONAL_ANGLES through a point in region x region."""
    lo, hi = region
    angle = np.deg2rad(rng.choice(DIAGONAL_ANGLES, size=n))
    width = rng.integers(WIDTHS[0], WIDTHS[1] + 1, size=n)
    # The band passes through a point in the middle half of the region, so it is never a stub in a corner.
    cy, cx = lo + (hi - lo - 1) * (0.25 + 0.5 * rng.random((2, n)))
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    # Distance of each pixel centre from the line row - cy = -tan(a) (col - cx): rows grow
    # downwards, so an angle below 90 degrees rises to the right on screen.
    dist = np.abs((cols[None] - cx[:, None, None]) * np.sin(angle)[:, None, None]
                  + (rows[None] - cy[:, None, None]) * np.cos(angle)[:, None, None])
    return dist < width[:, None, None] / 2


def _check_region(region: tuple[int, int] | None, size: int) -> tuple[int, int]:
    if region is None:
        return 0, size
    lo, hi = (int(v) for v in region)
    if not 0 <= lo < hi <= size:
        raise ValueError(f"region must satisfy 0 <= start < stop <= {size}, got {region}")
    return lo, hi


def make_edges(n: int, seed: int = 0, *, five_classes: bool = False, region: tuple[int, int] | None = None,
               permutation: torch.Tensor | None = None, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images [n, 1, size, size] (float32 in [0, 1]) and labels [n] (int64), class-balanced.

    Labels index :data:`CLASSES` (or :data:`FIVE_CLASSES` with ``five_classes=True``); each
    class gets ``n // k`` or ``n // k + 1`` images, in random order. ``region=(start, stop)``
    keeps every band within rows (horizontal) or columns (vertical) ``start`` to ``stop - 1``
    (diagonals and crosses: both), e.g. ``(0, 14)`` for the top/left half. ``permutation``
    (see :func:`pixel_permutation`) reorders the pixels of every image the same way. The same
    arguments always give the same images.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    lo, hi = _check_region(region, size)
    rng = np.random.default_rng(seed)
    k = len(FIVE_CLASSES if five_classes else CLASSES)
    labels = rng.permutation(np.arange(n) % k)
    images = rng.uniform(*BACKGROUND, size=(n, size, size))
    intensity = rng.uniform(*BAND, size=n)[:, None, None]
    rows = _band_masks(rng, n, size, (lo, hi))
    cols = _band_masks(rng, n, size, (lo, hi))
    band = np.zeros((n, size, size), dtype=bool)
    band |= ((labels == 0) | (labels == 4))[:, None, None] & rows[:, :, None]
    band |= ((labels == 1) | (labels == 4))[:, None, None] & cols[:, None, :]
    if five_classes:
        diagonal = labels == 3
        band[diagonal] = _diagonal_masks(rng, int(diagonal.sum()), size, (lo, hi))
    images = np.where(band, intensity, images)
    x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1)
    if permutation is not None:
        x = permute_pixels(x, permutation)
    return x, torch.from_numpy(labels.astype(np.int64))


def pixel_permutation(size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """A fixed random order of the ``size * size`` pixels (the same for the same seed)."""
    return torch.from_numpy(np.random.default_rng(seed).permutation(size * size))


def permute_pixels(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Images [n, 1, H, W] with their H*W pixels taken in the order ``permutation``."""
    n, c, h, w = x.shape
    if sorted(permutation.tolist()) != list(range(h * w)):
        raise ValueError(f"permutation must reorder the {h * w} pixels of a {h}x{w} image")
    return x.reshape(n, c, h * w)[:, :, permutation].reshape(n, c, h, w)


def per_class(n_per_class: int, seed: int = 0, **options) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`make_edges` with ``n_per_class`` images of every class."""
    k = len(FIVE_CLASSES if options.get("five_classes") else CLASSES)
    return make_edges(n_per_class * k, seed, **options)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of a few runs."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def results_table(results: dict, columns: Sequence, row_label: str = "", fmt: str = "{:.3f}") -> str:
    """A text table of ``results[row][column]`` (a number or a list of per-seed numbers).

    Lists are shown as ``mean ± std (n)`` so that the spread over seeds is always visible.
    """
    def cell(v) -> str:
        if isinstance(v, (list, tuple)):
            m, s = mean_std(v)
            return f"{fmt.format(m)} ± {fmt.format(s)}" + (f" ({len(v)})" if len(v) > 1 else "")
        return fmt.format(v) if isinstance(v, (int, float)) else str(v)

    header = [row_label] + [str(c) for c in columns]
    body = [[str(r)] + [cell(results[r].get(c, "")) for c in columns] for r in results]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
             for row in [header] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sweep_plot(results: dict, xlabel: str, ylabel: str = "validation accuracy", title: str | None = None,
               logx: bool = False, chance: float | None = None):
    """One line per ``results[name] = {x: [per-seed values]}``: the mean, with a band from min to max."""
    from .plotting import new_figure

    fig = new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for name, by_x in results.items():
        xs = list(by_x)
        runs = [np.atleast_1d(np.asarray(by_x[x], dtype=float)) for x in xs]
        line, = ax.plot(xs, [r.mean() for r in runs], marker="o", label=str(name))
        if any(len(r) > 1 for r in runs):
            ax.fill_between(xs, [r.min() for r in runs], [r.max() for r in runs], color=line.get_color(), alpha=0.15)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle=":", label="chance")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def edge_grid(images, labels: Sequence | None = None, ncols: int = 8, size: float = 1.3, title: str | None = None):
    """:func:`helpers.plotting.image_grid` on one fixed grey scale, 0 black to 1 white, so that an
    empty image looks dark (as it is) instead of being stretched into high-contrast noise."""
    from .plotting import image_grid

    fig = image_grid(images, labels, ncols=ncols, size=size, title=title)
    for ax in fig.axes:
        for im in ax.images:
            im.set_clim(0.0, 1.0)
    return fig
