"""One epoch of a 784-128-10 MLP: helpers' in-memory batches vs a torchvision DataLoader.

Same model, same batch size, one run each. Uses Fashion-MNIST (60,000 training images) from
COURSE_DATA_PATH / the cache when present, else MNIST. Prints both times and the ratio
(target: the in-memory path at least 5x faster).

    python benchmarks/data_loading.py [--batch-size 128]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import helpers
from helpers import data


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def one_epoch(model: nn.Module, batches) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for x, y in batches:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return time.perf_counter() - start


def torchvision_folder(ds: helpers.Dataset, root: Path) -> Path:
    """Write the training set as IDX files where torchvision's dataset class reads them."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = (ds.x_train[:, 0] * 255).round().to(torch.uint8).numpy()
    labels = ds.y_train.to(torch.uint8).numpy()
    for split in ("train", "test"):
        img_name, lab_name = data.IDX_FILES[split]
        (raw / img_name).write_bytes(bytes([0, 0, 8, 3]) + np.array(images.shape, ">u4").tobytes() + images.tobytes())
        (raw / lab_name).write_bytes(bytes([0, 0, 8, 1]) + np.array(labels.shape, ">u4").tobytes() + labels.tobytes())
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    try:
        ds = helpers.load_fashion_mnist()
    except data.DataUnavailableError:
        ds = helpers.load_mnist()
    print(f"data: {ds}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch size {args.batch_size}")

    in_memory = one_epoch(mlp(), helpers.Batches(ds.x_train, ds.y_train, args.batch_size, seed=0))

    import torchvision
    from torchvision.transforms import ToTensor

    with tempfile.TemporaryDirectory() as tmp:
        folder = torchvision_folder(ds, Path(tmp))
        tv = torchvision.datasets.FashionMNIST(str(folder), train=True, download=False, transform=ToTensor())
        loader = torch.utils.data.DataLoader(tv, batch_size=args.batch_size, shuffle=True)
        per_sample = one_epoch(mlp(), loader)

    n = len(ds.y_train)
    print(f"one epoch over {n:,} images")
    print(f"  helpers in-memory Batches:        {in_memory:6.2f} s")
    print(f"  torchvision DataLoader+ToTensor:  {per_sample:6.2f} s")
    print(f"  ratio: {per_sample / in_memory:.1f}x faster in memory (target: at least 5x)")


if __name__ == "__main__":
    main()
