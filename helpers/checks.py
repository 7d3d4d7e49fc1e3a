"""Assertions for the visible tests in notebooks: on failure they say what was expected,
what came back and where they differ; on success they print one line."""
from __future__ import annotations

import numpy as np
import torch


def _arr(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def comparable(got, expected, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``got`` and ``expected`` as arrays, once ``got`` is known to exist, match the shape and be finite."""
    if got is None:
        raise AssertionError(f"{what}: got None; did the function forget to `return` its result?")
    g, e = _arr(got), _arr(expected)
    if g.shape != e.shape:
        raise AssertionError(f"{what}: expected shape {e.shape}, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise AssertionError(f"{what}: the result contains NaN or infinity")
    return g, e


def check_close(got, expected, what: str, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Assert that ``got`` has ``expected``'s shape and values (within tolerance)."""
    g, e = comparable(got, expected, what)
    bad = ~np.isclose(g.astype(float), e.astype(float), atol=atol, rtol=rtol)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} values differ; first at index {idx}: "
                             f"expected {e[idx]:.6g}, got {g[idx]:.6g}"
                             + (f"\nexpected:\n{np.round(e, 4)}\ngot:\n{np.round(g, 4)}" if e.size <= 36 else ""))


def check_equal(got, expected, what: str, mistakes: dict | None = None) -> None:
    """Assert exact equality of two plain values (numbers, tuples, strings).

    ``mistakes`` maps known wrong values to what produces them ({wrong value: explanation});
    when ``got`` is one of them the message says which mistake it is.
    """
    if got != expected:
        why = next((f" {text}" for wrong, text in (mistakes or {}).items() if wrong != expected and got == wrong), "")
        raise AssertionError(f"{what}: expected {expected!r}, got {got!r}.{why}")


def passed(message: str) -> None:
    print(f"\u2713 {message}")
