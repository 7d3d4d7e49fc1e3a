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


class Points:
    """Partial credit in one test cell whose answers are independent of each other.

    nbgrader gives a test cell the number its last line shows (between 0 and the cell's points),
    so a hidden test can award each answer its own share::

        points = Points(3)
        points.award(1, lambda: check_equal(q_a, 5, "q_a"))
        points.award(2, lambda: check_close(q_b, 0.3, "q_b"))
        points.total()       # the last line of the cell

    A failed check (a wrong value, a wrong type, a missing name) costs its share only; its message
    is printed (to stdout: nbgrader scores a cell that writes to stderr zero). ``total`` refuses
    to run when the shares do not add up to the cell's points, an author's mistake.
    """

    def __init__(self, out_of: float):
        self.out_of, self.offered, self.earned = float(out_of), 0.0, 0.0
        self.missed: list[str] = []

    def award(self, points: float, check) -> bool:
        self.offered += points
        try:
            check()
        except Exception as exc:  # that answer earns nothing; the others still count
            self.missed.append(f"{exc}".strip())
            print(f"\u2717 {self.missed[-1]} ({points:g} of {self.out_of:g} points lost)")
            return False
        self.earned += points
        return True

    def total(self) -> float:
        if abs(self.offered - self.out_of) > 1e-9:
            raise ValueError(f"the shares add up to {self.offered:g} points, the cell has {self.out_of:g}")
        print(f"{self.earned:g} of {self.out_of:g} points" + ("" if self.missed else ": every answer is right"))
        return round(self.earned, 6)
