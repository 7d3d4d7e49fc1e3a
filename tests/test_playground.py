import numpy as np

from helpers.widgets import FilterPlayground, filter_image


def test_playground_updates_when_a_kernel_value_changes():
    pg = FilterPlayground(size=64)
    assert np.allclose(pg.result, pg.image), "the identity kernel leaves the image unchanged"
    before = pg.result.copy()
    pg.cells[4].value = 2.0                      # as if the student typed 2 in the centre box
    assert np.allclose(pg.result, 2 * before)
    pg.preset_menu.value = "sobel x"
    assert np.allclose(pg.kernel, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert not np.allclose(pg.result, before)
    assert "kernel sum +0.00" in pg.stats.value
    shown = pg.figure.axes[1].images[0].get_array()
    assert np.allclose(shown, pg.result), "the right-hand panel shows the current result"


def test_playground_switches_images():
    pg = FilterPlayground(size=64)
    first = pg.image.copy()
    pg.image_menu.value = "coins"
    assert pg.image.shape[1] == 64 and not np.array_equal(pg.image, first[: pg.image.shape[0]])


def test_filter_image_keeps_size_and_correlates():
    img = np.zeros((7, 7))
    img[3, 3] = 1.0
    k = np.arange(9.0).reshape(3, 3)
    out = filter_image(img, k)
    assert out.shape == img.shape
    assert np.allclose(out[2:5, 2:5], k[::-1, ::-1]), "cross-correlation of an impulse is the flipped kernel"
