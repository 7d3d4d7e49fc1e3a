"""Size budgets for networks (hidden units, parameters, allowed layers) and grading saved models.

An assignment can ask for a network "with at most 100 hidden units, using only Linear and ReLU
layers". The checks here look at the model a student's function builds (an ``nn.Sequential``)
and raise :class:`BudgetError` with a message that says what to change. The grading helpers
load a saved model only if it was trained with the architecture the function builds now, and
pick the accuracy it must reach from how it was trained (full data, fast mode, a small subset).
"""
from __future__ import annotations

import contextlib
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from .artifacts import ArtifactError, artifact_path, load_model, target
from .config import FAST_ENV
from .data import Dataset, load_mnist

MLP_LAYERS: tuple[type[nn.Module], ...] = (nn.Flatten, nn.Linear, nn.ReLU, nn.Softmax, nn.Dropout)
CNN_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.Dropout,
                                           nn.ReLU, nn.Softmax, nn.Flatten)
MNIST_INPUT = (1, 28, 28)


class BudgetError(AssertionError):
    """A model breaks a size budget or uses a layer the exercise does not allow."""


@dataclass
class Summary:
    """What a check found: the layer types, the hidden layer sizes and the parameter count."""

    layers: list[str]
    hidden: list[int]
    parameters: int

    @property
    def hidden_units(self) -> int:
        return sum(self.hidden)

    def __str__(self) -> str:
        sizes = "-".join(map(str, self.hidden)) or "none"
        convs = self.layers.count("Conv2d")
        text = f"{convs} convolution layer(s), " if convs else ""
        text += "hidden Linear layer(s) " if convs else f"{len(self.hidden)} hidden layer(s) "
        return text + f"of {sizes} ({self.hidden_units:,} hidden units), {self.parameters:,} parameters"


def _names(types: Sequence[type]) -> str:
    return ", ".join(t.__name__ for t in types)


# What an allowed layer may hold: its own weights and statistics, nothing a check could miss.
LAYER_TENSORS = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def _hooks(module: nn.Module) -> list[str]:
    return [name.strip("_").replace("_", " ") for name in HOOK_DICTS if getattr(module, name, None)]


def _global_hooks() -> list[str]:
    from torch.nn.modules import module as torch_module

    return [name.strip("_").replace("_", " ") for name in
            ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks", "_global_backward_pre_hooks")
            if getattr(torch_module, name, None)]


def leaf_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of an ``nn.Sequential`` in order, with nested ``nn.Sequential`` blocks opened up.

    Only a plain ``nn.Sequential`` (not a subclass, which could run anything in its own
    ``forward``) counts as a container; a container holds layers and nothing else.
    """
    if type(model) is not nn.Sequential:
        kind = "a subclass of nn.Sequential" if isinstance(model, nn.Sequential) else "not an nn.Sequential"
        raise BudgetError(f"expected a plain nn.Sequential, got {type(model).__name__} ({kind}, so its forward "
                          "may do more than its layers show): build the model as nn.Sequential(layer, layer, ...) "
                          "so that every layer can be checked")
    stray = [f"{kind} {name!r}" for kind, d in (("parameter", model._parameters), ("buffer", model._buffers))
             for name, v in d.items() if v is not None]
    if stray:
        raise BudgetError(f"the nn.Sequential itself holds {', '.join(stray)}, which belongs to no layer; "
                          "put every weight inside a layer")
    out: list[nn.Module] = []
    for layer in model:
        out += leaf_layers(layer) if isinstance(layer, nn.Sequential) else [layer]
    return out


def check_layers(model: nn.Module, allowed: Sequence[type[nn.Module]],
                 required: Sequence[type[nn.Module]] = ()) -> list[nn.Module]:
    """Raise :class:`BudgetError` unless every layer's type is in ``allowed`` (exactly, not a
    subclass), nothing runs that the layers do not show (hooks, a replaced ``forward``, extra
    tensors or sub-modules inside a layer), and each type in ``required`` occurs at least once;
    return the layers."""
    layers = leaf_layers(model)
    bad = [f"layer {i} is {type(m).__name__}" for i, m in enumerate(layers) if type(m) not in tuple(allowed)]
    if bad:
        raise BudgetError("; ".join(bad) + f", which this exercise does not allow. Use only: {_names(allowed)}.")
    for i, m in enumerate(layers):
        what = f"layer {i} ({type(m).__name__})"
        if {"forward", "__call__", "_call_impl"} & set(vars(m)):
            raise BudgetError(f"{what} has its own forward function attached; use the layer as PyTorch defines it")
        if list(m.children()):
            raise BudgetError(f"{what} holds sub-modules ({', '.join(n for n, _ in m.named_children())}), "
                              "which the check cannot see run; use plain layers")
        extra = [n for n in sorted(set(m._parameters) | set(m._buffers)) if n not in LAYER_TENSORS]
        if extra:
            raise BudgetError(f"{what} holds extra tensors {extra}, which are not part of the layer")
    hooked = [f"layer {i} ({type(m).__name__}): {', '.join(_hooks(m))}" for i, m in enumerate(layers) if _hooks(m)]
    hooked += [f"the model: {', '.join(_hooks(m))}" for m in model.modules() if type(m) is nn.Sequential and _hooks(m)]
    hooked += [f"every module: {h}" for h in _global_hooks()]
    if hooked:
        raise BudgetError("hooks are registered (" + "; ".join(hooked) + "); a hook can run code the budget "
                          "does not count. Remove them (build the model fresh, without register_*_hook)")
    missing = [t.__name__ for t in required if not any(type(m) is t for m in layers)]
    if missing:
        raise BudgetError(f"the model needs at least one {' and one '.join(missing)} layer; found layers: "
                          f"{', '.join(type(m).__name__ for m in layers) or 'none'}")
    return layers


def hidden_units(model: nn.Module, input_shape: Sequence[int] = MNIST_INPUT) -> list[int]:
    """Per-example output widths of every ``nn.Linear`` call except the last (the output layer),
    measured in a forward pass, so that a Linear applied before Flatten counts every value it makes.

    Activations, dropout and the output layer do not count as hidden units.
    """
    widths: list[int] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: widths.append(out[0].numel()))
               for m in model.modules() if type(m) is nn.Linear]
    try:
        _forward(model, input_shape)
    finally:
        for h in handles:
            h.remove()
    return widths[:-1]


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters, trainable or frozen (a frozen layer still runs), each counted once."""
    return sum(p.numel() for p in model.parameters())


def check_weights(model: nn.Module, owners: Sequence[type[nn.Module]]) -> int:
    """For a model with a forward of its own (an ``nn.Module`` subclass): raise :class:`BudgetError`
    if hooks are registered or any tensor lives outside a layer of exactly an ``owners`` type (a
    parameter, frozen or not, a floating-point buffer, or a plain tensor attribute), since its
    forward could use it unseen; return the number of parameters, frozen ones included."""
    stray = []
    for where, m in model.named_modules():
        owned = type(m) in tuple(owners)
        tensors = [("parameter", n, v) for n, v in m._parameters.items() if v is not None]
        tensors += [("buffer", n, v) for n, v in m._buffers.items() if v is not None and v.is_floating_point()
                    and n not in ("running_mean", "running_var")]
        tensors += [("tensor attribute", n, v) for n, v in vars(m).items() if isinstance(v, torch.Tensor)]
        stray += [f"{kind} {where + '.' if where else ''}{n} ({v.numel():,} values)" for kind, n, v in tensors
                  if not owned or kind != "parameter"]
    if stray:
        raise BudgetError(f"{', '.join(stray)} belong(s) to no {_names(owners)} layer; keep every weight inside "
                          f"those layers (the count covers only them)")
    hooked = [f"{where or 'the model'}: {', '.join(_hooks(m))}" for where, m in model.named_modules() if _hooks(m)]
    hooked += [f"every module: {h}" for h in _global_hooks()]
    if hooked:
        raise BudgetError("hooks are registered (" + "; ".join(hooked) + "); a hook can run code the count "
                          "does not see. Remove them")
    return count_parameters(model)


def _forward(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    """The model's output for a batch of two zero inputs, in eval mode, without gradients."""
    shape = (2, *input_shape)
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.zeros(shape, device=device))
    except Exception as exc:  # a shape mismatch inside the model: say where to look
        raise BudgetError(f"the model fails on a batch of shape {shape}: {type(exc).__name__}: {exc}. "
                          "Check that it starts with nn.Flatten() (for Linear layers) and that each layer's "
                          "input size equals the previous layer's output size.") from None
    finally:
        model.train(was_training)


def check_output(model: nn.Module, input_shape: Sequence[int] = MNIST_INPUT, n_classes: int = 10) -> None:
    """Raise :class:`BudgetError` unless a batch of two inputs gives scores of shape (2, n_classes)."""
    out = _forward(model, input_shape)
    if tuple(out.shape) != (2, n_classes):
        raise BudgetError(f"the model maps a batch of shape {(2, *input_shape)} to shape {tuple(out.shape)}; expected "
                          f"(2, {n_classes}): one score per class. The last layer should be nn.Linear(..., {n_classes}).")


def check_mlp(model: nn.Module, max_hidden_units: int, min_hidden_layers: int = 1,
              allowed: Sequence[type[nn.Module]] = MLP_LAYERS, input_shape: Sequence[int] = MNIST_INPUT,
              n_classes: int = 10) -> Summary:
    """Check a fully connected network against a hidden-unit budget; return its :class:`Summary`.

    Raises :class:`BudgetError` for a layer outside ``allowed``, too many hidden units, too few
    hidden layers, or a model that does not map images to ``n_classes`` scores.
    """
    layers = check_layers(model, allowed)
    check_output(model, input_shape, n_classes)
    hidden = hidden_units(model, input_shape)
    summary = Summary([type(m).__name__ for m in layers], hidden, count_parameters(model))
    if len(hidden) < min_hidden_layers:
        raise BudgetError(f"the model has {len(hidden)} hidden layer(s) ({summary}); this budget needs at least "
                          f"{min_hidden_layers}. Every nn.Linear except the last one is a hidden layer.")
    if summary.hidden_units > max_hidden_units:
        raise BudgetError(f"the model uses {summary.hidden_units:,} hidden units ({' + '.join(map(str, hidden))}); "
                          f"the budget is at most {max_hidden_units:,}. Make the hidden layers narrower.")
    return summary


def check_cnn(model: nn.Module, fewer_than: int = 1_000_000, allowed: Sequence[type[nn.Module]] = CNN_LAYERS,
              required: Sequence[type[nn.Module]] = (nn.Conv2d, nn.BatchNorm2d, nn.Dropout),
              input_shape: Sequence[int] = MNIST_INPUT, n_classes: int = 10) -> Summary:
    """Check a convolutional network: allowed and required layer types and a parameter budget
    (strictly ``fewer_than`` parameters, as in "under a million").

    Returns its :class:`Summary` (``hidden`` lists the sizes of the hidden Linear layers).
    """
    layers = check_layers(model, allowed, required)
    check_output(model, input_shape, n_classes)
    summary = Summary([type(m).__name__ for m in layers], hidden_units(model, input_shape), count_parameters(model))
    if summary.parameters >= fewer_than:
        raise BudgetError(f"the model has {summary.parameters:,} parameters; the budget is fewer than "
                          f"{fewer_than:,}. Shrink the largest layer (usually the first Linear after "
                          "Flatten: pool more, or use fewer channels or units).")
    return summary


# ----------------------------------------------------------------------------- grading saved models

def saved_architecture(path: str | Path) -> str | None:
    """The architecture text (``repr`` of the model) stored in an artifact, or None if absent."""
    try:
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:
        return None
    return blob.get("architecture") if isinstance(blob, dict) else None


def load_checked(model: nn.Module, name: str | Path) -> tuple[nn.Module, dict]:
    """Load the artifact ``name`` into ``model``, rebuilt by the student's function; return both.

    Beyond :func:`helpers.load_model` (missing file, unreadable file, tensors of the wrong
    shape), it raises :class:`ArtifactError` when the file was saved from a different
    architecture than ``model`` (e.g. the function was edited after training).
    """
    path = Path(name) if isinstance(name, Path) or os.sep in str(name) else artifact_path(str(name))
    model, metrics = load_model(model, path)
    saved = saved_architecture(path)
    if saved is not None and saved != repr(model):
        diff = [line for line in difflib.unified_diff(saved.splitlines(), repr(model).splitlines(), "saved", "now",
                                                      n=0, lineterm="") if not line.startswith("@@")]
        raise ArtifactError(f"{path} was trained with a different architecture than the one your function builds "
                            "now:\n" + "\n".join(diff[:12]) + "\nRe-run the training cell so that the saved "
                            "model matches your code, and submit the new file.")
    return model, metrics


@contextlib.contextmanager
def _fast_mode_off() -> Iterator[None]:
    old = os.environ.get(FAST_ENV)
    os.environ[FAST_ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[FAST_ENV]
        else:
            os.environ[FAST_ENV] = old


def graded_test_set(metrics: dict, loader: Callable[[], Dataset] = load_mnist) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images a saved model is scored on.

    While grading: the grader's whole test split, whatever the file says (grading runs in fast
    mode, but a score is not a noisy estimate from 1,000 images). Outside grading a model
    trained in fast mode is scored on the fast-mode test subset.
    """
    from .config import grading

    if metrics.get("fast", True) and not grading():
        data = loader()
    else:
        with _fast_mode_off():
            data = loader()
    return data.x_test, data.y_test


def accuracy_target(metrics: dict, full: float, fast: float, subset: float) -> tuple[float, str]:
    """The accuracy a saved model must reach, and why: see :func:`helpers.artifacts.target` (the
    grader's target while grading, whatever the file says)."""
    return target(metrics, full, fast, subset)
