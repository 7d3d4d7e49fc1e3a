"""Training and evaluation loops and parameter counting (artifacts live in ``helpers.artifacts``)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from .config import fast_mode

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class History:
    """Per-epoch record of a training run."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.__dict__.items()}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _show_progress() -> bool:
    """Progress bars only for a person watching: not in tests, CI or autograding."""
    quiet = fast_mode() or os.environ.get("COURSE_QUIET") or os.environ.get("CI")
    return not quiet and (sys.stdout.isatty() or "ipykernel" in sys.modules)


def _progress(iterable: Iterable, total: int, desc: str):
    if not _show_progress():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], loss_fn: Callable | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``batches`` (no gradients, eval mode)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for x, y in batches:
        out = model(x)
        loss_sum += float(loss_fn(out, y)) * len(y)
        correct += int((out.argmax(1) == y).sum())
        total += len(y)
    model.train(was_training)
    if total == 0:
        raise ValueError("evaluate() got no batches")
    return loss_sum / total, correct / total


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` that ``model`` classifies as ``y``."""
    device = next(model.parameters()).device
    batches = ((x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)) for i in range(0, len(y), batch_size))
    return evaluate(model, batches)[1]


def train(model: nn.Module, batches: Iterable[Batch], epochs: int = 1,
          optimizer: torch.optim.Optimizer | None = None, loss_fn: Callable | None = None,
          val_batches: Iterable[Batch] | None = None, verbose: bool = False) -> History:
    """Train ``model`` for ``epochs`` passes over ``batches``; return its :class:`History`.

    ``batches`` must be re-iterable (e.g. :class:`helpers.data.Batches`). Training
    accuracy is measured on the fly, during the epoch.
    """
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    history = History()
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        total, correct, loss_sum = 0, 0, 0.0
        n = len(batches) if hasattr(batches, "__len__") else None
        for x, y in _progress(batches, n, f"epoch {epoch + 1}/{epochs}"):
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += int((out.argmax(1) == y).sum())
            total += len(y)
        history.seconds.append(time.perf_counter() - start)
        history.loss.append(loss_sum / max(total, 1))
        history.accuracy.append(correct / max(total, 1))
        if val_batches is not None:
            vl, va = evaluate(model, val_batches, loss_fn)
            history.val_loss.append(vl)
            history.val_accuracy.append(va)
        if verbose:
            val = f", val loss {history.val_loss[-1]:.4f}, val acc {history.val_accuracy[-1]:.4f}" if val_batches else ""
            print(f"epoch {epoch + 1}/{epochs}: loss {history.loss[-1]:.4f}, acc {history.accuracy[-1]:.4f}"
                  f"{val} ({history.seconds[-1]:.1f} s)")
    return history
