"""Trained models saved next to the notebook, so that grading evaluates them and never retrains.

A training cell calls :func:`fit_or_load`. While a student works it trains the model and saves
weights and metrics under ``artifacts/`` (``COURSE_ARTIFACTS`` moves the folder). While
nbgrader grades (``helpers.grading()``) it loads the submitted file instead; if the student
submitted only the notebook (an LMS upload, a Colab download), it trains the model again (the
grader runs in fast mode) and says so. Test cells read the file with :func:`load_model` and pick their accuracy
threshold with :func:`required`, from how the model was trained.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from .config import fast_mode, grading

ARTIFACTS_ENV = "COURSE_ARTIFACTS"


class ArtifactError(RuntimeError):
    """A saved model artifact is missing, unreadable or does not fit the model."""


def artifact_path(name: str) -> Path:
    """Where the artifact ``name`` lives: ``artifacts/<name>`` next to the notebook by default."""
    return Path(os.environ.get(ARTIFACTS_ENV) or "artifacts") / name


def save_model(model: nn.Module, path: str | Path, **metrics: Any) -> Path:
    """Save weights, the architecture's description and ``metrics`` (numbers, lists, strings)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": 1, "architecture": repr(model), "state_dict": state, "metrics": dict(metrics)}, path)
    return path


def load_model(model: nn.Module, path: str | Path) -> tuple[nn.Module, dict]:
    """Load an artifact saved by :func:`save_model` into ``model``; return it and its metrics.

    Raises :class:`ArtifactError` with a message a student can act on when the file is
    missing or corrupt, or when its tensors do not fit ``model``.
    """
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"No saved model at {path}. Run the training cell that saves it, "
                            "and submit the file together with the notebook.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        state = blob["state_dict"]
    except Exception as exc:
        raise ArtifactError(f"{path} is not a model saved by helpers.save_model ({type(exc).__name__}). "
                            "Run the training cell again to re-create it.") from None
    expected = model.state_dict()
    problems = [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    problems += [f"{k}: saved {tuple(state[k].shape)}, model has {tuple(v.shape)}"
                 for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if problems:
        raise ArtifactError(f"{path} does not fit this model: " + "; ".join(problems[:5])
                            + ". Re-run the training cell with the current architecture.")
    model.load_state_dict(state)
    return model, dict(blob.get("metrics", {}))


def fit_or_load(model: nn.Module, name: str, fit: Callable[[nn.Module], dict | None]) -> tuple[nn.Module, dict]:
    """Train ``model`` with ``fit(model)`` and save it as ``artifact_path(name)``; return it and its metrics.

    ``fit`` trains in place and returns a dict of metrics to keep (accuracies, a history as
    lists). The saved metrics also record ``fast`` (fast mode was on) and ``seconds``. While
    grading, the submitted file is loaded instead (an unreadable file raises
    :class:`ArtifactError`); a missing one is trained again, in the grader's fast mode.
    """
    path = artifact_path(name)
    if grading():
        if path.is_file():
            model, metrics = load_model(model, path)
            print(f"grading: loaded the submitted model {path}")
            return model, metrics
        print(f"grading: no submitted {path}; training it now (grading runs in fast mode)")
    start = time.perf_counter()
    metrics = dict(fit(model) or {})
    metrics.update(fast=fast_mode(), seconds=time.perf_counter() - start)
    save_model(model, path, **metrics)
    return model, metrics


def required(metrics: dict, full: float, fast: float) -> float:
    """The threshold a saved model must reach: ``fast`` if it was trained in fast mode, else ``full``."""
    return fast if metrics.get("fast", True) else full
