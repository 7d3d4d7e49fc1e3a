"""Trained models saved next to the notebook, so that grading evaluates them and never retrains.

A training cell calls :func:`fit_or_load`. While a student works it trains the model and saves
weights and metrics under ``artifacts/`` (``COURSE_ARTIFACTS`` moves the folder). While
nbgrader grades (``helpers.grading()``) it loads the submitted file instead; a missing or
unreadable file fails, with a message that names the file to hand in: grading never trains.
Test cells read the file with :func:`load_model` and take their threshold from :func:`target`,
which the grader alone decides: nothing saved in a file can lower it.
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
    lists). The saved metrics also record ``fast`` (fast mode was on), ``seconds`` and
    ``train_images`` when ``fit`` gives it. While grading, the submitted file is loaded instead;
    a missing or unreadable one raises :class:`ArtifactError` (grading never trains a model).
    """
    path = artifact_path(name)
    if grading():
        if not path.is_file():
            raise ArtifactError(f"No {path} was handed in, so this model cannot be graded and the tests that need "
                                f"it score zero. Run this training cell, then hand in the {path.parent}/ folder "
                                "together with the notebook (the grader never trains a model).")
        model, metrics = load_model(model, path)
        print(f"grading: loaded the submitted model {path}")
        return model, metrics
    start = time.perf_counter()
    metrics = dict(fit(model) or {})
    metrics.update(fast=fast_mode(), seconds=time.perf_counter() - start)
    save_model(model, path, **metrics)
    return model, metrics


# The grader's switch for CI only: the reference is graded with fast-mode models, held to the
# fast-mode targets, when no full-mode reference models exist (coursetools.roundtrip sets it
# for the reference alone). Never set it when grading students.
FAST_MODELS_ENV = "COURSE_ACCEPT_FAST_MODELS"
FULL_SIZE = 50_000   # fewer training images than this is a subset (e.g. the offline MNIST subset)


def _trained_on(metrics: dict) -> int | None:
    n = metrics.get("train_images", metrics.get("n_train"))
    return int(n) if isinstance(n, (int, float)) else None


def target(metrics: dict, full: float, fast: float, subset: float | None = None,
           dataset: str = "MNIST") -> tuple[float, str]:
    """The threshold a saved model must reach, and why.

    While grading, the grader decides: ``full``, unless the grading machine itself has only
    the offline subset of ``dataset`` (then ``subset``, said loudly). What the file says about
    how it was trained never lowers it. Outside grading (a student's own check, CI): ``fast``
    for a model trained in fast mode, ``subset`` for one trained on fewer than 50,000 images,
    else ``full``; the reason says which target grading will apply.
    """
    if grading():
        if os.environ.get(FAST_MODELS_ENV) == "1" and metrics.get("fast", True):
            return fast, (f"CI FALLBACK ({FAST_MODELS_ENV}=1): a fast-mode reference model held to the fast-mode "
                          f"target; students are always held to {full}")
        if subset is not None:
            from .data import has_full_training_set

            if not has_full_training_set(dataset):
                return subset, (f"LOWER TARGET: the grading machine has only the offline {dataset} subset, so "
                                f"{subset} applies instead of {full}; give the grader the full dataset "
                                "(COURSE_DATA_PATH) to grade against the real target")
        return full, "the grader's target"
    if metrics.get("fast", True):
        return fast, f"trained in fast mode (a small subset, few epochs); grading holds it to {full}"
    n = _trained_on(metrics)
    if subset is not None and n is not None and n < FULL_SIZE:
        return subset, f"trained on {n:,} images (a subset); grading on the full dataset holds it to {full}"
    return full, "trained on the full training set"


def required(metrics: dict, full: float, fast: float, subset: float | None = None, dataset: str = "MNIST") -> float:
    """The threshold of :func:`target` alone, printed with its reason when it is not the full one."""
    value, why = target(metrics, full, fast, subset, dataset)
    if value != full:
        print(f"target {value} ({why})")
    return value
