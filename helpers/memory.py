"""Where training memory goes: an accountant for one training step, on CPU, GPU or PyTorch's meta device.

A training step keeps four kinds of tensors alive: the **parameters** (and buffers such as
batch-norm statistics), their **gradients**, the **optimizer state** (nothing for plain SGD,
one buffer per parameter for momentum, two for Adam) and the **activations** that autograd
saves during the forward pass for use in the backward pass. :func:`account_step` runs a step
and counts each of them:

- parameters, buffers and gradients from the model;
- optimizer state from ``optimizer.state`` (so any optimizer is counted as it really is);
- activations with :func:`torch.autograd.graph.saved_tensors_hooks`, counting every block of
  memory (storage) once, however many views of it are saved, and leaving out parameters.

The sum is the *predicted peak*. On a CUDA device the report also holds what PyTorch's caching
allocator measured (allocated, peak, reserved, total device memory) and the prediction error.
On the ``meta`` device tensors have shapes but no data, so a step costs no memory and almost no
time: the byte counts are exact, which lets a laptop predict what a large batch would need on a
GPU. Sizes are in bytes; :data:`MB` is 10**6 bytes and :data:`MiB` 2**20 bytes.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

MB = 10**6
MiB = 2**20
GiB = 2**30
# A Colab T4 is sold as 16 GB; PyTorch reports 14.75 GiB in total ("GPU 0; 14.75 GiB total
# capacity" in its out-of-memory messages), and the CUDA context takes its share before any tensor:
# recent out-of-memory reports on T4s put the memory of the process outside PyTorch's allocator at
# 0.11-0.13 GiB (CUDA's lazy loading keeps the context small). The simulated budget is what is left.
T4_TOTAL = round(14.75 * GiB)
T4_CONTEXT = round(0.13 * GiB)
T4_BUDGET = T4_TOTAL - T4_CONTEXT
# Elements of one tensor beyond which CUDA kernels that index with 32-bit integers (cuDNN's among
# them) fail with errors other than out-of-memory, on GPUs large enough to hold such a tensor.
INT32_ELEMENTS = 2**31 - 1

COLAB_GPU_STEPS = (
    "No CUDA GPU here, so the GPU cells take their CPU path (the byte counts are the same; only the\n"
    "measured CUDA numbers are missing). To run them on a GPU in Colab: Runtime > Change runtime type >\n"
    "Hardware accelerator: T4 GPU > Save, then Runtime > Run all (the setup cell runs again).")


# ----------------------------------------------------------------------------- counting bytes

def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes of the elements of ``t`` (numel x element size); works for meta tensors too."""
    return t.numel() * t.element_size()


def storage_key(t: torch.Tensor) -> tuple:
    """An identifier of the memory block (storage) behind ``t``.

    Views (``x.t()``, ``x[0]``, ``x.view(...)``) and the results of in-place operations share
    their input's storage, hence its key. On the meta device every tensor's address is 0, so the
    storage object's own handle identifies it there.
    """
    s = t.untyped_storage()
    ident = s._cdata if t.device.type == "meta" else s.data_ptr()
    return (t.device.type, t.device.index, ident)


def _unique_storage_bytes(tensors: Iterable[torch.Tensor]) -> int:
    seen: dict[tuple, int] = {}
    for t in tensors:
        seen.setdefault(storage_key(t), t.untyped_storage().nbytes())
    return sum(seen.values())


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of all parameters of ``model`` (trainable or frozen: both take memory)."""
    return _unique_storage_bytes(model.parameters())


def buffer_bytes(model: nn.Module) -> int:
    """Bytes of the buffers of ``model`` (batch-norm running statistics and the like)."""
    return _unique_storage_bytes(model.buffers())


def gradient_bytes(model: nn.Module) -> int:
    """Bytes of the gradients that currently exist (``p.grad`` is not None)."""
    return _unique_storage_bytes(p.grad for p in model.parameters() if p.grad is not None)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor in ``optimizer.state``, each storage once.

    The state is created lazily by the first ``step()``: before it, every optimizer holds 0
    bytes. Adam and friends also keep a scalar ``step`` tensor per parameter (4 bytes each), so
    their ratio to the parameters is a hair above a whole number.
    """
    return _unique_storage_bytes(v for state in optimizer.state.values() for v in state.values()
                                 if isinstance(v, torch.Tensor))


class SavedTensorMeter:
    """Context manager that adds up the tensors autograd saves for the backward pass.

    Every storage counts once (a ReLU applied in place and the batch norm before it save the
    same block); storages of ``exclude`` (pass the parameters) are not counted, since they are
    accounted for elsewhere. ``bytes`` and ``count`` hold the totals.
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()):
        self._excluded = {storage_key(t) for t in exclude}
        self._seen: dict[tuple, int] = {}
        self.largest = 0  # elements of the largest tensor saved
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        key = storage_key(t)
        if key not in self._excluded:
            self._seen.setdefault(key, t.untyped_storage().nbytes())
            self.largest = max(self.largest, t.numel())
        return t

    @staticmethod
    def _unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    def __enter__(self) -> "SavedTensorMeter":
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    @property
    def bytes(self) -> int:
        return sum(self._seen.values())

    @property
    def count(self) -> int:
        return len(self._seen)


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                       loss_fn: Callable | None = None) -> int:
    """Bytes autograd saves for backward in one forward pass and loss (parameters left out).

    Nothing is trained: the graph is dropped when the function returns. The input batch counts
    too when the first layer saves it (a convolution does, to compute its weight gradient).
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    with SavedTensorMeter(exclude=model.parameters()) as meter:
        loss_fn(model(x), y)
    return meter.bytes


# ----------------------------------------------------------------------------- one training step

@dataclass
class MemoryReport:
    """What one training step kept in memory, in bytes; CUDA fields are None elsewhere."""

    device: str
    batch_size: int
    parameters: int
    buffers: int
    gradients: int
    optimizer_state: int
    activations: int
    cuda_peak: int | None = None        # torch.cuda.max_memory_allocated during the step
    cuda_allocated: int | None = None   # torch.cuda.memory_allocated after the step
    cuda_reserved: int | None = None    # torch.cuda.memory_reserved: the allocator's cache
    cuda_total: int | None = None       # the device's total memory
    cuda_other: int | None = None       # allocated before the step by tensors outside it
    largest_tensor: int = 0             # elements of the largest tensor saved for backward

    @property
    def predicted_peak(self) -> int:
        """Everything the step keeps alive, added up as if all of it were alive at once."""
        return self.parameters + self.buffers + self.gradients + self.optimizer_state + self.activations

    @property
    def measured_peak(self) -> int | None:
        """The CUDA peak of the step alone (tensors that existed outside it left out)."""
        return None if self.cuda_peak is None else self.cuda_peak - (self.cuda_other or 0)

    @property
    def prediction_error(self) -> float | None:
        """(predicted - measured) / measured on CUDA, else None."""
        m = self.measured_peak
        return None if not m else (self.predicted_peak - m) / m

    def ratio(self, part: str) -> float:
        """``part`` (e.g. "optimizer_state") divided by the parameters' bytes."""
        return getattr(self, part) / self.parameters

    def rows(self) -> list[tuple[str, int | None]]:
        rows = [("parameters", self.parameters), ("buffers", self.buffers), ("gradients", self.gradients),
                ("optimizer state", self.optimizer_state), ("activations saved for backward", self.activations),
                ("predicted peak", self.predicted_peak)]
        if self.cuda_peak is not None:
            rows += [("CUDA measured peak of the step", self.measured_peak), ("CUDA allocated after", self.cuda_allocated),
                     ("CUDA reserved (cache)", self.cuda_reserved), ("CUDA total on the device", self.cuda_total)]
        return rows

    def __str__(self) -> str:
        lines = [f"one training step, batch {self.batch_size}, on {self.device}:"]
        lines += [f"  {name:<32}{n / MB:>12,.1f} MB" for name, n in self.rows()]
        if self.prediction_error is not None:
            lines.append(f"  {'prediction error':<32}{100 * self.prediction_error:>+12.1f} %")
        return "\n".join(lines)


def _cuda_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                  loss_fn: Callable | None = None) -> torch.Tensor:
    """zero_grad (set to None), forward, loss, backward, step; returns the loss."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def account_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                 loss_fn: Callable | None = None, warmup: bool | None = None) -> MemoryReport:
    """Run one training step of ``model`` on ``(x, y)`` and account for its memory.

    With ``warmup`` (the default on CUDA) a first step runs before the measured one, so the
    optimizer has created its state and CUDA its libraries' workspaces: the measured peak is
    that of a typical step. Elsewhere nothing is measured but byte counts, which a first step
    does not change (the state that step creates is read after it), so no warm-up is needed.
    Every step updates the model. ``model``, ``x`` and ``y`` must be on the same device
    (CPU, CUDA or meta).
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = x.device
    model.train()
    if warmup or (warmup is None and device.type == "cuda"):
        training_step(model, optimizer, x, y, loss_fn)
    optimizer.zero_grad(set_to_none=True)
    cuda = device.type == "cuda"
    other = None
    if cuda:
        index = _cuda_index(device)
        torch.cuda.synchronize(index)
        torch.cuda.reset_peak_memory_stats(index)
        inside = (parameter_bytes(model) + buffer_bytes(model) + optimizer_state_bytes(optimizer)
                  + _unique_storage_bytes([x, y]))
        other = max(0, torch.cuda.memory_allocated(index) - inside)
    with SavedTensorMeter(exclude=model.parameters()) as meter:
        loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    report = MemoryReport(device=str(device), batch_size=len(x), parameters=parameter_bytes(model),
                          buffers=buffer_bytes(model), gradients=gradient_bytes(model),
                          optimizer_state=optimizer_state_bytes(optimizer), activations=meter.bytes,
                          largest_tensor=meter.largest)
    if cuda:
        torch.cuda.synchronize(index)
        report.cuda_peak = torch.cuda.max_memory_allocated(index)
        report.cuda_allocated = torch.cuda.memory_allocated(index)
        report.cuda_reserved = torch.cuda.memory_reserved(index)
        report.cuda_total = torch.cuda.get_device_properties(index).total_memory
        report.cuda_other = other
    return report


def reports_table(reports: Mapping[str, MemoryReport]) -> str:
    """Several reports side by side (one column each), in MB."""
    names = list(reports)
    first = next(iter(reports.values()))
    labels = [label for label, _ in first.rows()]
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'MB':<32}" + "".join(f"{n:>{width}}" for n in names)]
    for i, label in enumerate(labels):
        cells = []
        for r in reports.values():
            rows = r.rows()
            value = rows[i][1] if i < len(rows) else None
            cells.append(f"{value / MB:>{width},.1f}" if value is not None else f"{'-':>{width}}")
        lines.append(f"{label:<32}" + "".join(cells))
    if any(r.prediction_error is not None for r in reports.values()):
        lines.append(f"{'prediction error (%)':<32}" + "".join(
            f"{100 * r.prediction_error:>+{width}.1f}" if r.prediction_error is not None else f"{'-':>{width}}"
            for r in reports.values()))
    return "\n".join(lines)


def memory_bars(reports: Mapping[str, MemoryReport], title: str | None = None):
    """Stacked bars of what each report's step keeps in memory (MB), with the CUDA peak as a dot."""
    from .plotting import new_figure

    parts = [("parameters", "parameters + buffers"), ("gradients", "gradients"),
             ("optimizer_state", "optimizer state"), ("activations", "activations")]
    fig = new_figure(figsize=(1.6 * len(reports) + 3.5, 3.6))
    ax = fig.subplots()
    names = list(reports)
    bottom = np.zeros(len(names))
    for attr, label in parts:
        values = np.array([(getattr(r, attr) + (r.buffers if attr == "parameters" else 0)) / MB
                           for r in reports.values()])
        ax.bar(names, values, bottom=bottom, label=label)
        bottom += values
    measured = [(i, r.measured_peak / MB) for i, r in enumerate(reports.values()) if r.measured_peak]
    if measured:
        ax.plot([i for i, _ in measured], [m for _, m in measured], "k*", markersize=12, label="CUDA measured peak")
    ax.set_ylabel("MB (10^6 bytes)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- the GPU itself

def gpu_info(device: torch.device | str | int | None = None) -> dict | None:
    """Name and memory of a CUDA device, or None without CUDA.

    ``context`` is the device memory in use that PyTorch's allocator does not hold: mostly the
    CUDA context (kernels and library handles), plus other processes on a shared GPU. It only
    exists once CUDA has been used, e.g. after moving a model to the GPU.
    """
    if not torch.cuda.is_available():
        return None
    index = _cuda_index(torch.device("cuda", device) if isinstance(device, int) else torch.device(device or "cuda"))
    free, total = torch.cuda.mem_get_info(index)
    reserved = torch.cuda.memory_reserved(index)
    return {"name": torch.cuda.get_device_name(index), "total": total, "free": free,
            "allocated": torch.cuda.memory_allocated(index), "reserved": reserved,
            "context": max(0, total - free - reserved)}


class SimulatedOutOfMemory(RuntimeError):
    """Raised instead of a real CUDA out-of-memory error when a step's prediction exceeds a budget."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA's out-of-memory error, a simulated one, or a host ``MemoryError``."""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, SimulatedOutOfMemory, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


_CUDA_WORDS = ("cuda", "cudnn", "cublas", "cufft", "cusolver", "nccl", "device-side assert", "illegal memory access")


def is_cuda_error(exc: BaseException) -> bool:
    """True for an out-of-memory error or any error CUDA or one of its libraries raised (cuDNN, cuBLAS ...)."""
    if is_out_of_memory(exc) or isinstance(exc, getattr(torch, "AcceleratorError", ())):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _CUDA_WORDS)


def release_memory() -> None:
    """Collect garbage and hand PyTorch's cached CUDA blocks back, e.g. after an out-of-memory error."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines() or [""]
    return f"{type(exc).__name__}: {lines[0][:160]}"


def probe_batch_sizes(run: Callable[[int], object], batch_sizes: Sequence[int], *,
                      predict: Callable[[int], "MemoryReport"] | None = None, budget: int | None = None,
                      max_elements: int = INT32_ELEMENTS, seconds: float | None = None,
                      clock: Callable[[], float] = time.perf_counter) -> list[dict]:
    """Call ``run(batch_size)`` for each size in turn until one does not fit.

    Each row is ``{"batch_size": b, "fits": True, "result": run(b)}`` for a size that worked and
    ``{"batch_size": b, "fits": False, "error": why}`` for the first that did not; the search
    stops there. A size does not fit when

    - ``predict(b)`` (a :class:`MemoryReport` made without running anything, on the meta device)
      says its peak exceeds ``budget`` bytes (on a GPU: the memory free when the probe starts),
      or that its largest tensor has more than ``max_elements`` elements (32-bit indexing): then
      ``run(b)`` is not called at all;
    - ``run(b)`` runs out of memory, or fails with any other CUDA error (cuDNN, cuBLAS, an
      invalid launch): a big enough GPU fails that way before its memory is full.

    Other errors propagate: they are bugs in ``run``. ``seconds`` bounds the probe's time: once
    spent, no further size is tried and the last row is ``{"batch_size": b, "fits": None,
    "error": "not tried: ..."}``. Memory is released after every call.
    """
    results = []
    start = clock()
    for bs in batch_sizes:
        if seconds is not None and clock() - start >= seconds:
            results.append({"batch_size": bs, "fits": None,
                            "error": f"not tried: the probe's time limit of {seconds:g} s is spent"})
            break
        error = None
        if predict is not None:
            report = predict(bs)
            if budget is not None and report.predicted_peak > budget:
                error = (f"not run: predicted peak {report.predicted_peak / GiB:.2f} GiB > "
                         f"budget {budget / GiB:.2f} GiB")
            elif report.largest_tensor > max_elements:
                error = (f"not run: its largest tensor would have {report.largest_tensor:,} elements, "
                         f"more than 32-bit indexing allows ({max_elements:,})")
        if error is None:
            try:
                result = run(bs)
            except Exception as exc:  # out-of-memory and other CUDA errors are results; the rest propagate
                if not is_cuda_error(exc):
                    raise
                error = _first_line(exc)
            release_memory()
        if error is not None:
            results.append({"batch_size": bs, "fits": False, "error": error})
            break
        results.append({"batch_size": bs, "fits": True, "result": result})
    return results


# ----------------------------------------------------------------------------- a time budget

@dataclass
class TimedRun:
    """Training for a wall-clock budget: training accuracy over time and throughput."""

    batch_size: int
    seconds: list[float] = field(default_factory=list)    # elapsed time at each record
    accuracy: list[float] = field(default_factory=list)   # training accuracy since the previous record
    steps: int = 0
    images: int = 0
    elapsed: float = 0.0
    first_step_seconds: float = 0.0   # includes one-off set-up (allocations, CUDA kernels)

    @property
    def images_per_second(self) -> float:
        """Throughput after the first step (the first one pays for set-up)."""
        if self.steps < 2:
            return self.images / max(self.elapsed, 1e-9)
        per_step = self.images / self.steps
        return (self.images - per_step) / max(self.elapsed - self.first_step_seconds, 1e-9)

    def epoch_seconds(self, n_train: int) -> float:
        """Estimated time of one pass over ``n_train`` images at the measured throughput."""
        return n_train / self.images_per_second


def train_for_seconds(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable,
                      seconds: float, min_steps: int = 2, records: int = 25,
                      loss_fn: Callable | None = None) -> TimedRun:
    """Train until ``seconds`` of wall-clock time have passed (and at least ``min_steps`` steps).

    ``batches`` is re-iterated as often as needed (a :class:`helpers.data.Batches`). On CUDA
    every step is synchronised, so the clock measures finished work.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = next(model.parameters()).device
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    run = TimedRun(batch_size=getattr(batches, "batch_size", 0))
    interval = seconds / max(records, 1)
    model.train()
    correct, seen, done = 0, 0, False
    start = time.perf_counter()
    while not done:
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            out = model(x)
            loss_fn(out, y).backward()
            optimizer.step()
            correct += int((out.argmax(1) == y).sum())
            seen += len(y)
            run.steps += 1
            run.images += len(y)
            sync()
            now = time.perf_counter() - start
            if run.steps == 1:
                run.first_step_seconds = now
            done = now >= seconds and run.steps >= min_steps
            if done or now >= interval * (len(run.seconds) + 1):
                run.seconds.append(now)
                run.accuracy.append(correct / seen)
                correct, seen = 0, 0
            if done:
                break
        if run.steps == 0:
            raise ValueError("train_for_seconds got no batches")
    run.elapsed = time.perf_counter() - start
    return run
