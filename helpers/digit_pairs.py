"""Two-digit sums: two MNIST digits side by side, labelled with their sum (assignment 6).

A pair image is a 1x28x56 tensor: one 28x28 digit on the left, another on the right. Its
label is the sum of the two digits (0 to 18), and both digits are returned too, so that a
model may learn either the sum directly or each digit separately. Training pairs are made
only of training images and test pairs only of test images: a test pair never shows a digit
image that was seen in training. The same seed always gives the same pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import Dataset, load_mnist

N_SUMS = 19  # 0 + 0 up to 9 + 9


@dataclass
class DigitPairs:
    """``n`` pair images with their sums, their two digits and where each half came from."""

    x: torch.Tensor        # [n, 1, 28, 56] float, left digit in columns 0-27, right in 28-55
    sums: torch.Tensor     # [n] int64 in 0..18
    digits: torch.Tensor   # [n, 2] int64 (left digit, right digit)
    sources: torch.Tensor  # [n, 2] int64 indices into the image pool the halves were taken from

    def __len__(self) -> int:
        return len(self.sums)

    def __repr__(self) -> str:
        return f"DigitPairs({len(self)} images {tuple(self.x.shape[1:])}, sums 0-{N_SUMS - 1})"


@dataclass
class PairDataset:
    """Training and test pairs, built from disjoint image pools (MNIST train and MNIST test)."""

    train: DigitPairs
    test: DigitPairs
    source: str

    def __repr__(self) -> str:
        return f"PairDataset({len(self.train)} train / {len(self.test)} test pairs from {self.source})"


def make_pairs(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int = 0) -> DigitPairs:
    """``n`` pairs of images from one pool, both halves drawn uniformly at random (with replacement).

    ``images`` is [N, 1, 28, 28] (or [N, 28, 28]) and ``labels`` the N digits. The draw depends
    only on ``seed``, so the same arguments give the same pairs.
    """
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images should be [N, 1, H, W] (one channel), got shape {tuple(images.shape)}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0 or n < 0:
        raise ValueError(f"need a non-empty pool and n >= 0 (pool {len(images)}, n {n})")
    generator = torch.Generator().manual_seed(seed)
    sources = torch.randint(0, len(images), (n, 2), generator=generator)
    x = torch.cat([images[sources[:, 0]], images[sources[:, 1]]], dim=3)
    digits = labels.long()[sources]
    return DigitPairs(x.contiguous(), digits.sum(1), digits, sources)


def load_digit_pairs(n_train: int, n_test: int, seed: int = 0, mnist: Dataset | None = None) -> PairDataset:
    """Training pairs drawn from MNIST's training images, test pairs from its test images.

    ``mnist`` defaults to :func:`helpers.load_mnist` (so fast mode and the offline fallback
    apply); any :class:`helpers.Dataset` of 28x28 digits works. ``n_train`` and ``n_test`` may
    exceed the number of images, since pairs are combinations of them.
    """
    mnist = mnist if mnist is not None else load_mnist()
    train = make_pairs(mnist.x_train, mnist.y_train, n_train, seed=seed)
    test = make_pairs(mnist.x_test, mnist.y_test, n_test, seed=seed + 1)
    return PairDataset(train, test, mnist.source)
