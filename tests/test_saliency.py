import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from helpers.saliency import curve_auc, rank_correlation, show_saliency


def test_rank_correlation_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(5, 6, 7)).astype(float)   # many ties
    b = a + rng.normal(size=a.shape)
    got = rank_correlation(torch.tensor(a), b)
    expected = [spearmanr(a[i].ravel(), b[i].ravel())[0] for i in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_rank_correlation_ignores_monotone_changes_and_sees_reversals():
    x = torch.rand(3, 10, 10)
    np.testing.assert_allclose(rank_correlation(x, x.exp() * 5), 1.0)
    np.testing.assert_allclose(rank_correlation(x, -x), -1.0)


def test_rank_correlation_of_constant_maps():
    z = np.zeros((2, 4, 4))
    other = np.arange(32.0).reshape(2, 4, 4)
    np.testing.assert_array_equal(rank_correlation(z, z), [1.0, 1.0])
    np.testing.assert_array_equal(rank_correlation(z, other), [0.0, 0.0])
    with pytest.raises(ValueError):
        rank_correlation(np.zeros((2, 4)), np.zeros((2, 5)))


def test_curve_auc_is_the_average_height():
    fr = np.linspace(0, 0.5, 11)
    assert curve_auc(fr, np.ones(11)) == pytest.approx(1.0)
    assert curve_auc(fr, 1 - fr / 0.5) == pytest.approx(0.5)       # a straight fall from 1 to 0
    rows = curve_auc(fr, torch.stack([torch.ones(11), torch.zeros(11)]))
    np.testing.assert_allclose(rows, [1.0, 0.0])
    with pytest.raises(ValueError):
        curve_auc([0.0], [1.0])
    with pytest.raises(ValueError):
        curve_auc([0.5, 0.0], [1.0, 1.0])


def test_show_saliency_draws_one_row_per_image():
    fig = show_saliency(torch.rand(3, 1, 8, 8), {"grad": torch.rand(3, 8, 8), "ig": torch.randn(3, 1, 8, 8)},
                        row_labels=["a", "b", "c"], signed=["ig"])
    fig.canvas.draw()
    assert len(fig.axes) == 9
    lo, hi = fig.axes[2].images[0].get_clim()
    assert lo == -hi
    assert fig.axes[3].get_title() == "b"


def test_lime_quietly_silences_the_progress_bar(capsys):
    from lime import lime_image

    from helpers.saliency import lime_quietly

    original = lime_image.tqdm
    image = np.zeros((8, 8))
    image[2:6, 2:6] = 1.0
    segments = lambda img: (np.arange(64).reshape(8, 8) // 16)          # 4 horizontal bands
    predict = lambda batch: np.stack([batch[..., 0].mean((1, 2)), 1 - batch[..., 0].mean((1, 2))], axis=1)
    with lime_quietly():
        exp = lime_image.LimeImageExplainer(random_state=0).explain_instance(
            image, predict, labels=(0,), top_labels=None, num_samples=30, segmentation_fn=segments)
    assert lime_image.tqdm is original
    assert set(np.unique(exp.segments)) == {0, 1, 2, 3}
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
