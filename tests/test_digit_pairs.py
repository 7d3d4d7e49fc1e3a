"""helpers.digit_pairs: shapes, labels, determinism and disjoint train/test sources of the two-digit sums."""
import pytest
import torch

from helpers import Dataset
from helpers.digit_pairs import N_SUMS, load_digit_pairs, make_pairs


def fake_mnist(n_train: int = 60, n_test: int = 40) -> Dataset:
    """Random 'digits' whose pixels identify them: train images are positive, test images negative."""
    g = torch.Generator().manual_seed(1)
    x_train = torch.rand(n_train, 1, 28, 28, generator=g) + 0.01
    x_test = -torch.rand(n_test, 1, 28, 28, generator=g) - 0.01
    y_train = torch.arange(n_train) % 10
    y_test = torch.randint(0, 10, (n_test,), generator=g)
    return Dataset("fake", x_train, y_train, x_test, y_test, [str(i) for i in range(10)], "fake digits")


def test_shapes_labels_and_halves():
    data = fake_mnist()
    pairs = make_pairs(data.x_train, data.y_train, 200, seed=3)
    assert pairs.x.shape == (200, 1, 28, 56) and pairs.x.dtype == torch.float32
    assert pairs.sums.shape == (200,) and pairs.sums.dtype == torch.int64
    assert pairs.digits.shape == (200, 2) and len(pairs) == 200
    left, right = pairs.sources[:, 0], pairs.sources[:, 1]
    assert torch.equal(pairs.x[..., :28], data.x_train[left])
    assert torch.equal(pairs.x[..., 28:], data.x_train[right])
    assert torch.equal(pairs.digits, torch.stack([data.y_train[left], data.y_train[right]], 1))
    assert torch.equal(pairs.sums, pairs.digits[:, 0] + pairs.digits[:, 1])
    assert 0 <= int(pairs.sums.min()) and int(pairs.sums.max()) <= N_SUMS - 1


def test_all_sums_occur_with_a_triangular_distribution():
    labels = torch.arange(1000) % 10
    pairs = make_pairs(torch.zeros(1000, 28, 28), labels, 20000, seed=0)
    counts = torch.bincount(pairs.sums, minlength=N_SUMS).float() / 20000
    expected = torch.tensor([min(s, 18 - s) + 1 for s in range(N_SUMS)]) / 100.0
    assert torch.allclose(counts, expected, atol=0.01), counts


def test_same_seed_same_pairs_other_seed_other_pairs():
    data = fake_mnist()
    a = make_pairs(data.x_train, data.y_train, 50, seed=7)
    b = make_pairs(data.x_train, data.y_train, 50, seed=7)
    c = make_pairs(data.x_train, data.y_train, 50, seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.sums, b.sums) and torch.equal(a.sources, b.sources)
    assert not torch.equal(a.sources, c.sources)


def test_train_and_test_pairs_come_from_disjoint_pools():
    data = fake_mnist()
    pairs = load_digit_pairs(300, 100, seed=0, mnist=data)
    assert (pairs.train.x > 0).all(), "a training pair contains a test image"
    assert (pairs.test.x < 0).all(), "a test pair contains a training image"
    assert torch.equal(pairs.test.x[..., :28], data.x_test[pairs.test.sources[:, 0]])
    assert len(pairs.train) == 300 and len(pairs.test) == 100
    again = load_digit_pairs(300, 100, seed=0, mnist=data)
    assert torch.equal(again.train.x, pairs.train.x) and torch.equal(again.test.x, pairs.test.x)
    assert "fake digits" in repr(pairs)


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        make_pairs(torch.zeros(3, 1, 28, 28), torch.zeros(2, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="one channel"):
        make_pairs(torch.zeros(3, 3, 28, 28), torch.zeros(3, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="non-empty pool"):
        make_pairs(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long), 5)
