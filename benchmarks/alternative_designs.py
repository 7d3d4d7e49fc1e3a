"""Other correct designs for assignment 05's budgets, trained and graded as a student's would be.

Usage: python benchmarks/alternative_designs.py [EXERCISE | N ...]
       (full mode on full MNIST; no argument runs all eight designs, about 25 minutes on 2 cores;
        an exercise name such as small_cnn or a design's number from 1 runs only those)

The reference is one answer among many: a fair grader accepts every design that keeps the rules
and reaches the target. This script takes the notebook's own code (data loading, `make_mlp`,
`train_model`, `make_fit`) from the source notebook's cells, so nothing is written twice, builds
two more designs per budget (other depths and widths, with and without dropout), checks each
with `helpers.budget` as the test cells do, trains it with the notebook's recipe in full mode and
prints its test accuracy against the target.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

os.environ["COURSE_FAST"] = "0"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NOTEBOOK = ROOT / "source" / "05_mnist_depth_width" / "mnist_depth_width.ipynb"
# The cells whose definitions the designs need: imports, data, make_mlp, train_model, make_fit.
NEEDED = ("import time", "data = helpers.load_mnist()", "def make_mlp(", "def train_model(", "FAST_EPOCHS = ")

# (exercise, builder source, check, target, recipe)
DESIGNS = [
    ("budget_100", "make_mlp([64, 36])", "check_mlp(model, max_hidden_units=100, min_hidden_layers=1)", 0.975,
     dict(epochs=20, lr=3e-3, batch_size=128)),
    ("budget_100", "make_mlp([100], dropout=0.1)", "check_mlp(model, max_hidden_units=100, min_hidden_layers=1)", 0.975,
     dict(epochs=20, lr=3e-3, batch_size=128)),
    ("budget_200", "make_mlp([150, 50])", "check_mlp(model, max_hidden_units=200, min_hidden_layers=2)", 0.98,
     dict(epochs=20, lr=3e-3, batch_size=128)),
    ("budget_200", "make_mlp([100, 60, 40], dropout=0.1)", "check_mlp(model, max_hidden_units=200, min_hidden_layers=2)",
     0.98, dict(epochs=20, lr=3e-3, batch_size=128)),
    ("budget_1000", "make_mlp([400, 300, 300], dropout=0.2)", "check_mlp(model, max_hidden_units=1000, min_hidden_layers=3)",
     0.983, dict(epochs=20, lr=2e-3, batch_size=128)),
    ("budget_1000", "make_mlp([400, 300, 200, 100], dropout=0.1)",
     "check_mlp(model, max_hidden_units=1000, min_hidden_layers=3)", 0.983, dict(epochs=20, lr=2e-3, batch_size=128)),
    ("small_cnn", """nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 3 * 3, 10))""",
     "check_cnn(model, fewer_than=1_000_000)", 0.985, dict(epochs=10, lr=2e-3, batch_size=32)),
    ("small_cnn", """nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32, track_running_stats=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 7 * 7, 240), nn.ReLU(), nn.Linear(240, 10))""",
     "check_cnn(model, fewer_than=1_000_000)", 0.985, dict(epochs=10, lr=2e-3, batch_size=32)),
]


def notebook_namespace() -> dict:
    """Run the notebook's setup and the cells that define what training needs; return their names."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    namespace: dict = {}
    exec(compile(nb.cells[1].source, "setup", "exec"), namespace)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.lstrip().startswith(NEEDED):
            source = "\n".join(l for l in cell.source.splitlines() if not l.strip().startswith("###")
                               and not l.startswith("helpers.image_grid"))
            exec(compile(source, "cell", "exec"), namespace)
    return namespace


def selected(args: list[str]) -> list[tuple]:
    """The designs named on the command line, by exercise or by number (1 is the first); all if none."""
    if not args:
        return DESIGNS
    chosen = [design for number, design in enumerate(DESIGNS, 1) if design[0] in args or str(number) in args]
    if not chosen:
        raise SystemExit(f"no design matches {args}: name an exercise ({sorted({d[0] for d in DESIGNS})}) "
                         f"or a number from 1 to {len(DESIGNS)}")
    return chosen


def main(args: list[str]) -> int:
    designs = selected(args)
    ns = notebook_namespace()
    print(f"{'exercise':>12}  {'design':<44} {'check':<52} {'epochs':>6} {'s':>5} {'accuracy':>8} {'target':>6}  verdict")
    missed = 0
    for exercise, build, check, target, recipe in designs:
        ns["helpers"].seed_everything(0)
        model = eval(build, ns)
        summary = eval(check, {**ns, "model": model})
        start = time.perf_counter()
        metrics = ns["make_fit"](**recipe)(model)
        seconds = time.perf_counter() - start
        accuracy = metrics["test_accuracy"]
        ok = accuracy >= target
        missed += not ok
        design = " ".join(build.split())
        print(f"{exercise:>12}  {design[:44]:<44} {str(summary)[:52]:<52} {metrics['epochs']:>6} {seconds:>5.0f} "
              f"{accuracy:>8.4f} {target:>6.3f}  {'meets the target' if ok else 'MISSES the target'}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
