import numpy as np
import torch
from matplotlib.figure import Figure

import helpers


def drawn(fig) -> bool:
    fig.canvas.draw()
    return isinstance(fig, Figure) and len(fig.axes) > 0


def test_image_grid_accepts_tensors_and_lists_of_any_size():
    fig = helpers.image_grid(torch.rand(5, 1, 28, 28), labels=list("abcde"), ncols=3)
    assert drawn(fig) and len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    assert drawn(helpers.image_grid([np.zeros((10, 20)), np.ones((30, 5, 3))], ncols=2))


def test_kernel_grid_uses_a_symmetric_scale():
    w = torch.randn(4, 2, 3, 3)
    fig = helpers.kernel_grid(w)
    assert drawn(fig) and len(fig.axes) >= 8
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo == -hi


def test_training_curves_from_history_or_dict():
    h = helpers.History(loss=[1.0, 0.5], accuracy=[0.5, 0.8], val_loss=[1.1, 0.7], val_accuracy=[0.4, 0.7])
    fig = helpers.training_curves(h)
    assert drawn(fig) and len(fig.axes[0].lines) == 2
    assert drawn(helpers.training_curves({"loss": [1, 2], "accuracy": [0.1, 0.2]}))


def test_confusion_matrix_counts_any_number_of_classes():
    fig = helpers.confusion_matrix([0, 1, 2, 2, 4], [0, 2, 2, 2, 4])
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (5, 5) and img[2, 2] == 2 and img[1, 2] == 1
    assert "accuracy 0.800" in fig.axes[0].get_title()


def test_figures_are_not_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    helpers.image_grid(torch.rand(2, 28, 28))
    assert len(plt.get_fignums()) == before
