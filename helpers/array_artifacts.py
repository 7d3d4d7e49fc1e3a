"""Models made of plain NumPy arrays, saved and graded like any other trained model.

:mod:`helpers.artifacts` stores ``torch.nn.Module`` weights. A model written in NumPy has no
module, so :class:`ArrayBundle` holds its named arrays as tensors (buffers of a small module)
and the functions below pass it through :func:`helpers.artifacts.fit_or_load` and
:func:`helpers.artifacts.load_model`. The file format, the error messages and the grading
behaviour (load the submitted file; never train a missing one) are exactly theirs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import torch
from torch import nn

from .artifacts import fit_or_load, load_model

Shapes = Mapping[str, tuple[int, ...]]


class ArrayBundle(nn.Module):
    """Named float64 arrays of fixed shapes, kept as buffers so that ``state_dict`` saves them."""

    def __init__(self, shapes: Shapes):
        super().__init__()
        self.shapes = {name: tuple(int(n) for n in shape) for name, shape in shapes.items()}
        for name, shape in self.shapes.items():
            self.register_buffer(name, torch.zeros(shape, dtype=torch.float64))

    def set_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Copy ``arrays`` in; every name must be known and every shape must match."""
        unknown = sorted(set(arrays) - set(self.shapes))
        missing = sorted(set(self.shapes) - set(arrays))
        if unknown or missing:
            raise ValueError(f"expected arrays {sorted(self.shapes)}; missing {missing}, unexpected {unknown}")
        for name, value in arrays.items():
            value = np.asarray(value, dtype=np.float64)
            if value.shape != self.shapes[name]:
                raise ValueError(f"array {name!r} has shape {value.shape}, expected {self.shapes[name]}")
            getattr(self, name).copy_(torch.from_numpy(value))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays as new float64 NumPy arrays."""
        return {name: getattr(self, name).detach().cpu().numpy().copy() for name in self.shapes}

    def extra_repr(self) -> str:
        return ", ".join(f"{name}: {shape}" for name, shape in self.shapes.items())


def fit_or_load_arrays(name: str, shapes: Shapes,
                       fit: Callable[[], tuple[Mapping[str, np.ndarray], dict | None]]) -> tuple[dict[str, np.ndarray], dict]:
    """:func:`helpers.artifacts.fit_or_load` for a NumPy model; return its arrays and metrics.

    ``fit()`` trains and returns ``(arrays, metrics)``: a dict of the arrays to keep (with the
    given ``shapes``) and a dict of metrics. While grading, the submitted file is loaded instead.
    """
    def fit_bundle(bundle: ArrayBundle) -> dict | None:
        arrays, metrics = fit()
        bundle.set_arrays(arrays)
        return metrics

    bundle, metrics = fit_or_load(ArrayBundle(shapes), name, fit_bundle)
    return bundle.arrays(), metrics


def load_arrays(path: str | Path, shapes: Shapes) -> tuple[dict[str, np.ndarray], dict]:
    """Load arrays saved by :func:`fit_or_load_arrays`; raise :class:`helpers.ArtifactError` with
    a message a student can act on if the file is missing, corrupt or has other shapes."""
    bundle, metrics = load_model(ArrayBundle(shapes), path)
    return bundle.arrays(), metrics
