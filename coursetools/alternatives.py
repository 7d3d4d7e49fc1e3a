"""Other correct answers, and plausible wrong ones, graded beside the reference.

A reference solution is one correct answer among many. For each exercise listed here, the
round trip grades two more students of the assignment (see :class:`coursetools.badsubmissions.
BadSubmissions`): ``alternative``, the reference with every listed correct answer put in place of
the reference's own, which must score full marks; and ``plausible_wrong``, the reference with
every listed mistake, which must lose exactly the listed test cells, each with its message.

An answer is Python code whose top-level definitions (``def f``, ``name = ...``) replace the
reference's definitions of the same names in the solution cell ``cell`` (its grade id); with
``whole=True`` it replaces everything between the cell's BEGIN and END SOLUTION lines (a loop,
which defines no name of its own).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

import nbformat


@dataclass(frozen=True)
class Answer:
    cell: str                 # grade id of the solution cell
    code: str                 # definitions replacing the reference's of the same names
    why: str                  # what it is: how it differs from the reference, or the mistake made
    fails: str | None = None  # for a mistake: the test cell that loses points (its share, where a
    message: str = ""         # cell gives each answer its own) and words its message must contain
    also: tuple[str, ...] = ()  # later test cells that use the same answer, and lose points with it
    whole: bool = False       # replace the whole solution region, not definitions by name


CORRECT: dict[str, list[Answer]] = {
    "01_filters": [
        Answer("edges", "def vertical_edge_kernel():\n    return np.array([[-1.0, 0.0, 1.0]] * 3) / 6\n",
               "Prewitt / 6: normalised, so a unit step gives exactly 0.5"),
        Answer("edges", "def vertical_edge_kernel():\n    return np.array([[1.0, -2.0, 1.0]] * 4)\n",
               "a 4x3 second difference: flat and horizontal give 0, a vertical step +-4"),
        Answer("sizes", "q_span = 64 - conv_output_size(64, 3, dilation=4) + 1\n"
                        "q_same_padding = next(p for p in range(20) if conv_output_size(40, 7, padding=p, dilation=2) == 40)\n",
               "both found with conv_output_size rather than the formula"),
    ],
    "02_cnn_arithmetic": [
        Answer("zip_code", "q_zip_correct = round(0.9985 ** 5, 4)\n"
                           "q_zip_errors_per_million = round(1e6 * (1 - 0.9985 ** 5))\n"
                           "q_digit_needed = round(0.999 ** 0.2, 4)\n",
               "rounded as the original homework asks: 4 decimal places, a whole number of letters"),
        Answer("pool_macs", "q_macs_before = nn.Conv2d(64, 64, 3, padding=1, bias=False).weight.numel() * 32 * 32\n"
                            "q_macs_after = nn.Conv2d(64, 64, 3, padding=1, bias=False).weight.numel() * 16 * 16\n",
               "weights counted on a real layer, times the output positions"),
        Answer("two_channels", "w_before, b_before = np.array([-2.0, -2.0, 1.0]), -0.5\nmix, b_mix = np.array([2.0, 3.0]), -1.0\n",
               "other weights: the neighbours weigh double, the channels are mixed with unequal weights"),
        Answer("ring_detector", '''def ring_detector():
    w1, b1 = [], []
    for r, c in [(1, 1), (0, 0), (1, 0), (0, 1)]:        # corners in another order
        corner = RING[r:r + 2, c:c + 2]
        w1.append(np.where(corner == 1, 2.0, -2.0))
        b1.append(1.0 - 2.0 * corner.sum())
    w1.append(np.ones((2, 2)))                           # an extra channel the second layer ignores
    b1.append(-3.5)
    w2 = np.zeros((5, 2, 2))
    for k, (r, c) in enumerate([(1, 1), (0, 0), (1, 0), (0, 1)]):
        w2[k, r, c] = 3.0
    return np.array(w1), np.array(b1), w2, -10.0
''', "five channels in another order, scaled, one of them unused by the second layer"),
    ],
    "05_mnist_depth_width": [
        Answer("baselines", '''for name in BASELINES:
    helpers.seed_everything(0)
    net = make_mlp(BASELINES[name])
    train_model(net, data.x_train, data.y_train, epochs=1, lr=0.001, batch_size=32, schedule="constant")
    baseline_params[name] = sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        baseline_acc[name] = float((net.cpu()(data.x_test).argmax(1) == data.y_test).float().mean())
''', "parameters counted from the model, accuracy computed by hand", whole=True),
        Answer("deep_best_epoch", "deep_best_epoch = max(range(1, len(deep_hist['val_accuracy']) + 1), "
                                  "key=lambda e: deep_hist['val_accuracy'][e - 1])\n",
               "the best epoch by max over the epoch numbers"),
        Answer("dropout_sweep", '''def one_run(p):
    helpers.seed_everything(0)
    net = small_cnn(dropout=float(p))
    train_model(net, x_tr[:n_sweep], y_tr[:n_sweep], epochs=1, lr=CNN_RECIPE["lr"], batch_size=CNN_RECIPE["batch_size"])
    return helpers.accuracy(net, x_val, y_val), helpers.accuracy(net, data.x_test, data.y_test)


runs = [one_run(p) for p in SWEEP_P]
sweep_val, sweep_test = [v for v, _ in runs], [t for _, t in runs]
''', "one function per run and a list comprehension", whole=True),
    ],
    "06_mnist_experiments": [
        Answer("overfit_sweep", "SMALL_NET = {'c1': 4, 'c2': 8, 'hidden': 64}\nKEEP_PROBS = [0.6]\n"
                                "best_cure = sorted((c['test_acc'][-1], n) for n, c in overfit.items() "
                                "if n != 'ClassicNet, 250 images')[-1][1]\n",
               "another small network and keep probability, the best cure found by sorting"),
    ],
    "04_edge_detection": [
        Answer("kernel_similarity", '''def kernel_similarity(learned, reference):
    a, b = learned.detach().flatten(1), reference.detach().flatten(1)
    return F.cosine_similarity(a[:, None], b[None], dim=2)
''', "PyTorch's cosine_similarity, broadcast over every pair (its eps gives 0 for a zero kernel)"),
    ],
    "03_conv_backprop": [
        Answer("first_layer_gradient", '''def first_layer_gradient(model):
    loss = F.binary_cross_entropy_with_logits(model(X2).squeeze(1), y2)
    (grad,) = torch.autograd.grad(loss, model[0].weight)
    return float(grad.pow(2).sum().sqrt())
''', "torch.autograd.grad, which never touches .grad, and the norm written out"),
    ],
    "07_gpu_memory": [
        Answer("activation_bytes", '''def activation_bytes(model, x, y):
    weights = {p.untyped_storage()._cdata for p in model.parameters()}
    blocks = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage._cdata not in weights:
            blocks[storage._cdata] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        nn.functional.cross_entropy(model(x), y)
    return sum(blocks.values())
''', "storages told apart by their C handle on every device, not by address"),
    ],
}

WRONG: dict[str, list[Answer]] = {
    "01_filters": [
        Answer("edges", "def vertical_edge_kernel():\n    return np.array([[0.0, 1.0, 2.0]] * 5)\n",
               "a ramp that does not sum to zero", fails="test_edges", message="on a flat image"),
        Answer("sizes", "q_span = 3 * 4\n", "kernel size times dilation", fails="test_sizes", message="q_span"),
    ],
    "02_cnn_arithmetic": [
        Answer("zip_code", "q_zip_errors_per_million = 1e6 * 5 * 0.0015\n",
               "five times one digit's error rate", fails="test_zip_code", message="counts a code with two wrong digits twice"),
        Answer("counting", "q_fc_params = 100 * 80\n", "the biases forgotten", fails="test_counting_layers",
               message="The biases are missing"),
        Answer("counting", "q_equations = 10_000\n", "one equation per image", fails="test_counting_images",
               message="one per number of its target"),
        Answer("pool_macs", "q_macs_before = 32 * 32 * 64 * 9\nq_macs_after = 16 * 16 * 64 * 9\n",
               "one output channel's cost only", fails="test_pool_macs", message="multiply by 64 output channels"),
        Answer("two_channels", "w_before, b_before = np.array([0.0, -1.0, 1.0]), -0.5\n",
               "the left neighbour ignored: right on signal2, wrong on the window (1, 0, 1)", fails="test_two_channels",
               message="it must fire on [0, 0, 1] and nowhere else"),
        Answer("ring_detector", "def ring_detector():\n    return np.ones((1, 2, 2)), np.array([-2.5]), np.ones((1, 2, 2)), -3.5\n",
               "one filter for 'at least three ones', which also fires on a solid block", fails="test_ring_detector",
               message="on the 3x3 window [[1, 1, 1], [1, 1, 1], [1, 1, 1]]"),
    ],
    "05_mnist_depth_width": [
        Answer("baselines", '''for name, hidden in BASELINES.items():
    helpers.seed_everything(0)
    model = make_mlp(hidden)
    train_model(model, data.x_train, data.y_train, epochs=1, lr=1e-3, batch_size=32, schedule="constant")
    baseline_acc[name] = helpers.accuracy(model, data.x_test, data.y_test)
    baseline_params[name] = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
''', "the biases left out of the count", fails="test_baselines", message="weights and biases of every Linear layer",
               whole=True),
        Answer("deep_best_epoch", "deep_best_epoch = int(np.argmax(deep_hist['val_accuracy']))\n",
               "the index of the best epoch, counted from 0", fails="test_deep_best_epoch", message="deep_best_epoch"),
        Answer("dropout_sweep", '''for p in SWEEP_P:
    helpers.seed_everything(0)
    model = small_cnn(dropout=float(1 - p))
    train_model(model, x_tr[:n_sweep], y_tr[:n_sweep], epochs=1, lr=CNN_RECIPE["lr"], batch_size=CNN_RECIPE["batch_size"])
    sweep_val.append(helpers.accuracy(model, x_val, y_val))
    sweep_test.append(helpers.accuracy(model, data.x_test, data.y_test))
''', "p read as the probability to keep a unit, as some libraries' keep_prob", fails="test_dropout_sweep",
               message="at p = 1 your sweep reaches", whole=True),
    ],
    "06_mnist_experiments": [
        Answer("overfit_sweep", "SMALL_NET = dict(c1=32, c2=64, hidden=128)\n",
               "only the hidden layer shrunk: the first Linear layer still has 401,536 weights", fails="test_overfit_sweep",
               message="it must have fewer than 100,000"),
    ],
    "04_edge_detection": [
        Answer("kernel_similarity", '''def kernel_similarity(learned, reference):
    a, b = learned.detach().flatten(1), reference.detach().flatten(1)
    return a @ b.T / a.norm(dim=1)[:, None]
''', "divided by the learned kernel's norm only: the reference's scale still counts", fails="test_kernel_similarity",
               message="kernel_similarity of two tiny kernel sets"),
    ],
    "03_conv_backprop": [
        Answer("first_layer_gradient", '''def first_layer_gradient(model):
    F.binary_cross_entropy_with_logits(model(X2).squeeze(1), y2).backward()
    return float(model[0].weight.grad.norm())
''', "no zero_grad: gradients left from earlier passes are added in", fails="test_first_layer_gradient",
               message="first_layer_gradient of a small sigmoid network"),
    ],
    "07_gpu_memory": [
        Answer("activation_bytes", '''def activation_bytes(model, x, y):
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel() * t.element_size()) or t, lambda t: t):
        nn.functional.cross_entropy(model(x), y)
    return sum(saved)
''', "every saved tensor counted, views twice and the weights too", fails="test_activation_bytes",
               message="count each storage once", also=("test_activation_by_batch",)),
    ],
}


def _names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):   # ``a = ...`` and ``a, b = ...``
        targets = [e for t in node.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        return {t.id for t in targets if isinstance(t, ast.Name)}
    return set()


def replace_definitions(source: str, code: str) -> str:
    """``source`` with each top-level definition of ``code`` in place of the one of the same name
    (a definition that ``source`` lacks is an error: the answer would silently not be used)."""
    lines = source.splitlines()
    new = {name: node for node in ast.parse(code).body for name in _names(node)}
    spans = {}
    for node in ast.parse(source).body:
        for name in _names(node) & set(new):
            spans[name] = (node.lineno - 1 - len(getattr(node, "decorator_list", [])), node.end_lineno)
    missing = set(new) - set(spans)
    if missing:
        raise KeyError(f"the cell defines none of {sorted(missing)}")
    replaced = {span: new[name] for name, span in spans.items()}   # ``a, b = ...``: one span, once
    for (start, end), node in sorted(replaced.items(), key=lambda kv: -kv[0][0]):
        lines[start:end] = ast.get_source_segment(code, node).splitlines()
    return "\n".join(lines)


def rounds(answers: list[Answer]) -> list[list[Answer]]:
    """The answers grouped so that no group has two for one cell: the k-th answer of every cell
    goes to group k (each group is one graded student)."""
    groups: list[list[Answer]] = []
    seen: dict[str, int] = {}
    for answer in answers:
        k = seen.get(answer.cell, 0)
        seen[answer.cell] = k + 1
        if k == len(groups):
            groups.append([])
        groups[k].append(answer)
    return groups


def students(reference_nb, name: str, source_nb=None) -> dict[str, tuple[object, dict]]:
    """{student: (notebook, expectations)}: ``alternative_<k>`` (full marks) and ``plausible_wrong``,
    graded as the reference is (with its models, against the same targets). ``source_nb`` (with
    its solution markers) is needed for answers with ``whole=True``."""
    out = {f"alternative_{k}": (apply(reference_nb, group, source_nb), {"all_full": True, "as_reference": True})
           for k, group in enumerate(rounds(CORRECT.get(name, [])), 1)}
    if WRONG.get(name):
        out["plausible_wrong"] = (apply(reference_nb, WRONG[name], source_nb),
                                  {"mistakes": WRONG[name], "as_reference": True})
    return out


def apply(nb, answers: list[Answer], source_nb=None):
    """A copy of ``nb`` (the reference filled in) with ``answers`` in their solution cells; a
    ``whole`` answer replaces the solution region of the cell as ``source_nb`` marks it."""
    nb = nbformat.from_dict(nb)
    by_id = lambda book: {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in book.cells}
    cells, marked = by_id(nb), by_id(source_nb) if source_nb is not None else {}
    for answer in answers:
        cell = cells[answer.cell]
        if not answer.whole:
            cell.source = replace_definitions(cell.source, answer.code)
            continue
        if answer.cell not in marked:
            raise KeyError(f"{answer.cell}: a whole-solution answer needs the source notebook with its markers")
        replaced = replace_solution(marked[answer.cell].source, answer.code)
        cell.source = "\n".join(l for l in replaced.splitlines() if l.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return nb


def replace_solution(source: str, code: str) -> str:
    """``source`` with the lines between its BEGIN and END SOLUTION markers replaced by ``code``."""
    begin, end = "### BEGIN SOLUTION\n", "### END SOLUTION"
    if begin not in source or end not in source:
        raise KeyError("the cell has no BEGIN/END SOLUTION region")
    head, rest = source.split(begin, 1)
    return head + begin + code.rstrip("\n") + "\n" + end + rest.split(end, 1)[1]
