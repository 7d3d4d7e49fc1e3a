"""Interactive widgets for the companion notebooks (ipywidgets; testable without a browser)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import SAMPLE_IMAGES, sample_image
from .plotting import new_figure

PRESETS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
}


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlate a 2-D image with a kernel as deep-learning libraries do, same size
    output (reflect padding)."""
    x = torch.as_tensor(image, dtype=torch.float64)[None, None]
    w = torch.as_tensor(np.asarray(kernel), dtype=torch.float64)[None, None]
    kh, kw = w.shape[-2:]
    x = F.pad(x, (kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2), mode="reflect")
    return F.conv2d(x, w)[0, 0].numpy()


class FilterPlayground:
    """Pick an image, edit a 3x3 kernel, and see the filtered image update live.

    ``.widget`` is what a notebook displays; ``.kernel`` and ``.result`` hold the current
    state, so the playground can be driven and checked without a browser.
    """

    def __init__(self, size: int = 192):
        import ipywidgets as w
        self._size = size
        self.image_menu = w.Dropdown(options=list(SAMPLE_IMAGES), value="camera", description="image")
        self.preset_menu = w.Dropdown(options=list(PRESETS), value="identity", description="preset")
        self.cells = [w.FloatText(value=float(PRESETS["identity"][i // 3][i % 3]), step=0.5,
                                  layout=w.Layout(width="70px")) for i in range(9)]
        self.output = w.Output()
        self.stats = w.HTML()
        grid = w.GridBox(self.cells, layout=w.Layout(grid_template_columns="repeat(3, 75px)"))
        controls = w.VBox([self.image_menu, self.preset_menu, w.HTML("<b>kernel</b>"), grid, self.stats])
        self.widget = w.HBox([controls, self.output])
        self.image = sample_image(self.image_menu.value, size)
        self.result = self.image
        self._updating = False
        self.image_menu.observe(self._on_image, names="value")
        self.preset_menu.observe(self._on_preset, names="value")
        for cell in self.cells:
            cell.observe(self._on_kernel, names="value")
        self.update()

    @property
    def kernel(self) -> np.ndarray:
        return np.array([c.value for c in self.cells], dtype=np.float64).reshape(3, 3)

    def set_kernel(self, kernel) -> None:
        """Set all nine values at once (one redraw)."""
        self._updating = True
        for c, v in zip(self.cells, np.asarray(kernel, dtype=float).ravel()):
            c.value = float(v)
        self._updating = False
        self.update()

    def _on_image(self, change) -> None:
        self.image = sample_image(change["new"], self._size)
        self.update()

    def _on_preset(self, change) -> None:
        self.set_kernel(PRESETS[change["new"]])

    def _on_kernel(self, _change) -> None:
        if not self._updating:
            self.update()

    def update(self) -> None:
        """Recompute the filtered image and redraw both panels."""
        self.result = filter_image(self.image, self.kernel)
        self.stats.value = (f"kernel sum {self.kernel.sum():+.2f}; output range "
                            f"[{self.result.min():.2f}, {self.result.max():.2f}]")
        fig = new_figure((7, 3.5))
        ax_in, ax_out = fig.subplots(1, 2)
        ax_in.imshow(self.image, cmap="gray", vmin=0, vmax=1)
        ax_in.set_title("input")
        ax_out.imshow(self.result, cmap="gray")
        ax_out.set_title("filtered (auto contrast)")
        for ax in (ax_in, ax_out):
            ax.axis("off")
        fig.tight_layout()
        self.figure = fig
        self.output.clear_output(wait=True)
        with self.output:
            from IPython.display import display

            display(fig)
