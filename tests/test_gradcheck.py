"""helpers.gradcheck: relative error, finite differences, and the near-miss messages."""
import numpy as np
import pytest
import torch

from helpers.gradcheck import check_gradient, numerical_gradient, rel_error


def test_rel_error_is_zero_for_equal_and_about_one_for_unrelated():
    a = np.arange(1.0, 7.0)
    assert rel_error(a, a.copy()) == 0.0
    assert rel_error(a, -a) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(torch.tensor(a), a) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(3), np.zeros(4))


def test_rel_error_ignores_round_off_next_to_exact_zeros():
    a = np.array([0.0, 1.0, -2.0])
    assert rel_error(a, a + np.array([1e-12, 0.0, 0.0])) < 1e-10


def test_numerical_gradient_of_a_scalar_function():
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])      # restored


def test_numerical_gradient_with_upstream_matches_a_matrix_transpose():
    rng = np.random.default_rng(0)
    a, x, up = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    grad = numerical_gradient(lambda v: a @ v, x, up)
    assert rel_error(grad, a.T @ up) < 1e-9


def test_numerical_gradient_rejects_float32_and_missing_upstream():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: v.sum(), np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="upstream"):
        numerical_gradient(lambda v: v * 2, np.zeros(3))


def test_check_gradient_passes_and_returns_the_error():
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert check_gradient(g + 1e-12, g, "g") < 1e-10


def test_check_gradient_names_the_matching_mistake():
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(AssertionError, match="with the kernel transposed"):
        check_gradient(g.T, g, "dw", near_misses={"with the kernel transposed": g.T, "flipped": g[::-1, ::-1]})


def test_check_gradient_reports_shape_none_nan_and_the_worst_entry():
    g = np.ones((2, 3))
    with pytest.raises(AssertionError, match=r"expected shape \(2, 3\), got shape \(3, 2\)"):
        check_gradient(np.ones((3, 2)), g, "dx")
    with pytest.raises(AssertionError, match="got None"):
        check_gradient(None, g, "dx")
    with pytest.raises(AssertionError, match="NaN"):
        check_gradient(np.full((2, 3), np.nan), g, "dx")
    bad = g.copy()
    bad[1, 2] = 5.0
    with pytest.raises(AssertionError, match=r"index \(1, 2\): expected 1, got 5"):
        check_gradient(bad, g, "dx", near_misses={"unrelated": -g})
