"""Figures used across the notebooks. Each function returns its Figure and works headless.

Figures are closed as soon as they are made, so nothing is drawn twice and nothing piles
up in memory: make the call the last line of a cell (or ``display(fig)``) to show it.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .training import History


def _as_numpy(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A Figure that pyplot no longer tracks: shown once when returned, then freed."""
    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def _grid(n: int, ncols: int, size: float) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig = new_figure(figsize=(size * ncols, size * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def _to_hwc(img: np.ndarray) -> np.ndarray:
    """[C,H,W] or [H,W] to something imshow understands."""
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = np.moveaxis(img, 0, -1)
    return img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img


def image_grid(images, labels: Sequence | None = None, ncols: int = 8, size: float = 1.4,
               cmap: str = "gray", title: str | None = None) -> Figure:
    """Images (N,[C,]H,W), or a list of images of any sizes, in a grid, titled with labels if given."""
    images = [_as_numpy(img) for img in images] if isinstance(images, (list, tuple)) else _as_numpy(images)
    fig, axes = _grid(len(images), ncols, size)
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(_to_hwc(img), cmap=cmap)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def kernel_grid(weights, ncols: int = 8, size: float = 1.2, title: str | None = None) -> Figure:
    """Convolution kernels (out, in, kH, kW) or (N, kH, kW), one panel each, on a
    symmetric colour scale so that zero is white, positive red and negative blue."""
    w = _as_numpy(weights)
    if w.ndim == 4:
        w = w.reshape(-1, *w.shape[-2:])
    elif w.ndim == 2:
        w = w[None]
    fig, axes = _grid(len(w), ncols, size)
    for i, k in enumerate(w):
        lim = float(np.abs(k).max()) or 1.0
        axes.flat[i].imshow(k, cmap="bwr", vmin=-lim, vmax=lim)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def training_curves(history: History | dict, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training and (if recorded) validation."""
    h = history.as_dict() if isinstance(history, History) else history
    fig = new_figure(figsize=(9, 3.2))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        epochs = np.arange(1, len(h[key]) + 1)
        ax.plot(epochs, h[key], marker="o", label="train")
        if h.get("val_" + key):
            ax.plot(epochs, h["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, class_names: Sequence[str] | None = None,
                     title: str | None = None) -> Figure:
    """Counts of (true, predicted) pairs; any number of classes."""
    t, p = _as_numpy(y_true).astype(int), _as_numpy(y_pred).astype(int)
    n = int(max(t.max(initial=0), p.max(initial=0)) + 1)
    if class_names is not None:
        n = max(n, len(class_names))
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (t, p), 1)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    fig = new_figure(figsize=(0.5 * n + 2, 0.5 * n + 1.5))
    ax = fig.subplots()
    ax.imshow(counts, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, counts[i, j], ha="center", va="center",
                    color="white" if counts[i, j] > counts.max() / 2 else "black", fontsize=8)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {np.trace(counts) / max(counts.sum(), 1):.3f}")
    fig.tight_layout()
    return fig
