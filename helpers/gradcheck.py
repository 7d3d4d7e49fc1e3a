"""Gradient checks for hand-written backward passes: relative error, finite differences, and
an assertion that names the usual mistake (a flipped or transposed kernel, a missing term).
Not ``torch.autograd.gradcheck``: the functions checked here are NumPy code, and a student needs
the message that says which mistake the error looks like, not only that the gradients differ.

Import in a notebook as ``from helpers.gradcheck import rel_error, numerical_gradient, check_gradient``.
Work in float64: centred differences with ``h = 1e-5`` are then accurate to about 1e-10, so a
relative error above 1e-6 means a real bug, not round-off.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch

from .checks import comparable


def _arr(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def rel_error(a, b, eps: float = 1e-12) -> float:
    """``||a - b|| / (||a|| + ||b||)`` (Euclidean norms): 0 for equal arrays, about 1 for unrelated ones.

    Norms rather than elementwise ratios, so that entries which are exactly zero in one array
    and 1e-11 in the other (round-off in a finite difference) do not count as errors.
    """
    a, b = _arr(a), _arr(b)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} and {b.shape}")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), eps))


def numerical_gradient(f: Callable[[np.ndarray], object], x: np.ndarray, upstream=None,
                       h: float = 1e-5) -> np.ndarray:
    """Centred finite-difference gradient of ``f`` at ``x`` (``x`` is changed in place, then restored).

    If ``f`` returns a scalar, this is d f / d x. If it returns an array, pass ``upstream``
    (same shape as that array): the result is the gradient of ``sum(f(x) * upstream)``, which is
    what a backward pass receiving ``upstream`` must return.
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        raise TypeError("numerical_gradient needs a float64 NumPy array (float32 is too coarse for h = 1e-5)")
    up = None if upstream is None else _arr(upstream)

    def scalar() -> float:
        out = _arr(f(x))
        if up is None:
            if out.size != 1:
                raise ValueError(f"f returned an array of shape {out.shape}: pass its upstream gradient")
            return float(out.reshape(()))
        if out.shape != up.shape:
            raise ValueError(f"f returned shape {out.shape}, upstream has shape {up.shape}")
        return float(np.sum(out * up))

    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = scalar()
        x[i] = old - h
        minus = scalar()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_gradient(got, expected, what: str, tol: float = 1e-6,
                   near_misses: Mapping[str, object] | None = None) -> float:
    """Assert that the gradient ``got`` matches ``expected`` (relative error below ``tol``).

    ``near_misses`` maps a description of a typical mistake to the gradient that mistake
    produces; when ``got`` matches one of them the failure message says which. Returns the
    relative error so a test can print it.
    """
    g, e = comparable(got, expected, what)
    err = rel_error(g, e)
    if err <= tol:
        return err
    for mistake, wrong in (near_misses or {}).items():
        w = _arr(wrong)
        if w.shape == g.shape and rel_error(g, w) <= tol and rel_error(w, e) > tol:
            raise AssertionError(f"{what}: relative error {err:.2g} (needs < {tol:g}). Your result equals "
                                 f"what you get {mistake}.")
    idx = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(g - e)), e.shape))
    raise AssertionError(f"{what}: relative error {err:.2g} (needs < {tol:g}); largest difference at index "
                         f"{idx}: expected {e[idx]:.6g}, got {g[idx]:.6g}")
