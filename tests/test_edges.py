"""helpers.edges: the synthetic edge dataset (geometry, ranges, balance, options, determinism, speed)."""
import time

import numpy as np
import pytest
import torch

from helpers import edges
from helpers.edges import CLASSES, FIVE_CLASSES, make_edges, per_class, permute_pixels, pixel_permutation

THRESHOLD = 0.225  # between the brightest background (0.2) and the faintest band (0.25)


def bright(img: torch.Tensor) -> np.ndarray:
    """Boolean mask of band pixels of one [1, H, W] image."""
    return img[0].numpy() > THRESHOLD


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of every run of True in a 1-D boolean array."""
    out, start = [], None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - start))
            start = None
    return out


def test_shapes_dtypes_and_ranges():
    x, y = make_edges(300, seed=1)
    assert x.shape == (300, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (300,) and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1, 2}
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    for img, label in zip(x, y):
        v = img.flatten()
        background, band = v[v <= 0.2], v[v > 0.2]
        assert float(background.max()) <= 0.2
        if label == CLASSES.index("none"):
            assert len(band) == 0
        else:
            # one intensity for the whole band, drawn from [0.25, 1]
            assert len(band) > 0 and float(band.min()) >= 0.25 and float(band.max() - band.min()) < 1e-6
    # background really varies (noise), and over many images intensities cover most of [0.25, 1]
    assert float(x[y == 2].std()) > 0.04
    levels = torch.stack([img.max() for img, label in zip(x, y) if label != 2])
    assert float(levels.min()) < 0.35 and float(levels.max()) > 0.9


@pytest.mark.parametrize("label", [0, 1])
def test_band_geometry_three_classes(label):
    x, y = make_edges(600, seed=2)
    widths, starts = set(), set()
    for img in x[y == label]:
        mask = bright(img)
        lines = mask if label == 0 else mask.T       # rows of a horizontal band, columns of a vertical one
        full = lines.all(axis=1)
        assert (lines.any(axis=1) == full).all(), "a band must span the whole image"
        (start, width), = runs(full)                # exactly one run of consecutive full lines
        assert 1 <= width <= 4
        widths.add(width)
        starts.add(start)
    assert widths == {1, 2, 3, 4}
    assert 0 in starts and any(s + w == 28 for s in starts for w in widths), "bands must reach both borders"
    assert len(starts) > 20, "bands should appear at (almost) every position"


def test_region_restricts_band_positions():
    x, y = make_edges(600, seed=3, region=(14, 28))
    for img, label in zip(x, y):
        mask = bright(img)
        if label == 0:
            assert not mask[:14].any() and mask[14:].any()
        elif label == 1:
            assert not mask[:, :14].any() and mask[:, 14:].any()
    x, y = make_edges(300, seed=3, region=(0, 14))
    assert not (x[y != 2, 0, 14:, 14:] > THRESHOLD).any()
    with pytest.raises(ValueError):
        make_edges(10, region=(20, 10))


def test_class_balance():
    for n in (3, 30, 31, 1000):
        counts = torch.bincount(make_edges(n, seed=n)[1], minlength=3)
        assert int(counts.max() - counts.min()) <= 1 and int(counts.sum()) == n
    x, y = per_class(12, seed=0)
    assert torch.bincount(y).tolist() == [12, 12, 12]
    x, y = per_class(7, seed=0, five_classes=True)
    assert torch.bincount(y).tolist() == [7] * 5
    first = make_edges(3000, seed=5)[1][:30]
    assert len(set(first.tolist())) == 3 and not (first[:-1] == first[1:]).all(), "labels should be shuffled"


def test_five_class_variant():
    x, y = make_edges(1000, seed=6, five_classes=True)
    assert set(y.tolist()) == set(range(len(FIVE_CLASSES)))
    assert FIVE_CLASSES[:3] == CLASSES
    angles = set()
    for img, label in zip(x, y):
        mask = bright(img)
        rows_full, cols_full = mask.all(axis=1), mask.all(axis=0)
        if FIVE_CLASSES[label] == "cross":
            assert rows_full.any() and cols_full.any()
            assert 1 <= rows_full.sum() <= 4 and 1 <= cols_full.sum() <= 4
            assert (mask == (rows_full[:, None] | cols_full[None, :])).all()
        elif FIVE_CLASSES[label] == "diagonal":
            assert not rows_full.any() and not cols_full.any()
            r, c = np.nonzero(mask)
            assert len(r) >= 14, "a diagonal band should be long, not a stub in a corner"
            slope = np.polyfit(c, r, 1)[0]
            angles.add(round(float(np.degrees(np.arctan(-slope))) / 15) * 15)
    assert len(angles) >= 4, f"diagonal bands should come at several angles, got {sorted(angles)}"
    assert {a > 0 for a in angles} == {True, False}, "both rising and falling diagonals"


def test_permutation():
    perm = pixel_permutation(28, seed=0)
    assert sorted(perm.tolist()) == list(range(784))
    assert torch.equal(perm, pixel_permutation(28, seed=0)) and not torch.equal(perm, pixel_permutation(28, seed=1))
    plain, y = make_edges(50, seed=7)
    mixed, y2 = make_edges(50, seed=7, permutation=perm)
    assert torch.equal(y, y2)
    assert torch.equal(mixed.reshape(50, -1), plain.reshape(50, -1)[:, perm])
    assert torch.equal(permute_pixels(plain, perm), mixed)
    with pytest.raises(ValueError):
        permute_pixels(plain, perm[:100])


def test_determinism():
    for options in ({}, {"five_classes": True}, {"region": (0, 14)}, {"permutation": pixel_permutation()}):
        a, b = make_edges(200, seed=11, **options), make_edges(200, seed=11, **options)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[0], make_edges(200, seed=12, **options)[0])


def test_fast_enough():
    make_edges(100)
    start = time.perf_counter()
    make_edges(5000, seed=1, five_classes=True)
    seconds = time.perf_counter() - start
    # thousands of images per second even on a loaded 2-core machine (about 20,000/s when idle)
    assert 5000 / seconds > 2000, f"{5000 / seconds:.0f} images per second"


def test_results_table_shows_mean_and_spread():
    assert edges.mean_std([1.0]) == (1.0, 0.0)
    m, s = edges.mean_std([0.9, 1.0])
    assert m == pytest.approx(0.95) and s == pytest.approx(0.0707, abs=1e-4)
    text = edges.results_table({"cnn": {10: [0.9, 1.0], 30: 0.5}}, [10, 30], "model")
    assert "0.950 ± 0.071 (2)" in text and "0.500" in text and text.splitlines()[0].startswith("model")


def test_sweep_plot_draws_mean_and_spread():
    fig = edges.sweep_plot({"cnn": {10: [0.5, 0.7], 30: [0.9, 1.0]}, "mlp": {10: [0.4], 30: [0.6]}},
                           "images per class", chance=1 / 3, logx=True)
    ax = fig.axes[0]
    means = [list(line.get_ydata()) for line in ax.lines[:2]]
    assert means[0] == pytest.approx([0.6, 0.95]) and means[1] == pytest.approx([0.4, 0.6])
    assert len(ax.collections) == 1 and ax.get_xscale() == "log"   # a spread band only where there are several seeds


def test_edge_grid_uses_one_fixed_grey_scale():
    x, y = make_edges(6, seed=0)
    fig = edges.edge_grid(x, [CLASSES[i] for i in y], ncols=3)
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 6 and all(im.get_clim() == (0.0, 1.0) for im in images)
