"""helpers.budget: hidden-unit and parameter budgets, allowed layers, and grading saved models."""
import pytest
import torch
from torch import nn

import helpers
from helpers.budget import (BudgetError, accuracy_target, check_cnn, check_layers, check_mlp, graded_test_set,
                            hidden_units, leaf_layers, load_checked)


def mlp(*sizes: int, dropout: float = 0.0) -> nn.Sequential:
    layers, n = [nn.Flatten()], 784
    for k in sizes:
        layers += [nn.Linear(n, k), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        n = k
    return nn.Sequential(*layers, nn.Linear(n, 10))


def cnn(batchnorm: bool = True, dropout: bool = True, channels: int = 8, hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), *([nn.BatchNorm2d(channels)] if batchnorm else []), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), *([nn.Dropout(0.5)] if dropout else []),
        nn.Linear(channels * 14 * 14, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def test_hidden_units_skip_the_output_layer_activations_and_dropout():
    assert hidden_units(mlp()) == []
    assert hidden_units(mlp(64, 32, dropout=0.2)) == [64, 32]
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(784, 40), nn.ReLU()), nn.Linear(40, 10))
    assert hidden_units(nested) == [40]
    assert [type(m) for m in leaf_layers(nested)] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]


def test_check_mlp_accepts_a_model_within_budget():
    summary = check_mlp(mlp(60, 40, dropout=0.1), max_hidden_units=100, min_hidden_layers=2)
    assert summary.hidden == [60, 40] and summary.hidden_units == 100
    assert summary.parameters == helpers.count_parameters(mlp(60, 40))
    assert "60-40 (100 hidden units)" in str(summary)


def test_check_mlp_rejects_too_many_units_and_too_few_layers():
    with pytest.raises(BudgetError, match=r"101 hidden units \(101\); the budget is at most 100"):
        check_mlp(mlp(101), max_hidden_units=100)
    with pytest.raises(BudgetError, match=r"1 hidden layer.*at least 2"):
        check_mlp(mlp(150), max_hidden_units=200, min_hidden_layers=2)
    with pytest.raises(BudgetError, match="0 hidden layer"):
        check_mlp(mlp(), max_hidden_units=100)


def test_check_mlp_rejects_disallowed_layers_by_name():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 50), nn.Sigmoid(), nn.Linear(50, 10))
    with pytest.raises(BudgetError, match=r"layer 2 is Sigmoid, which this exercise does not allow\. "
                                          r"Use only: Flatten, Linear, ReLU, Softmax, Dropout"):
        check_mlp(model, max_hidden_units=100)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10))
    with pytest.raises(BudgetError, match="layer 0 is Conv2d"):
        check_mlp(conv, max_hidden_units=100)


class Subclassed(nn.Linear):
    """A Linear subclass could hide anything in forward: the check wants the exact type."""


class WiderInside(nn.Sequential):
    """Reports 10 hidden units, runs a 4,096-unit sigmoid layer of its own (issue 22's first case)."""

    def __init__(self):
        super().__init__(nn.Flatten(), nn.Linear(784, 10), nn.ReLU(), nn.Linear(10, 10))
        self.secret = nn.Parameter(torch.zeros(784, 4096))

    def forward(self, x):
        return super().forward(x) + torch.sigmoid(x.flatten(1) @ self.secret)[:, :10]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def hooked_mlp() -> nn.Sequential:
    """A plain 10-unit MLP whose forward hook adds a hidden 2,000-unit network (repr unchanged)."""
    model = mlp(10)
    extra = nn.Sequential(nn.Linear(784, 2000), nn.ReLU(), nn.Linear(2000, 10))
    model.register_forward_hook(lambda m, inputs, out: out + extra(inputs[0].flatten(1)))
    return model


def with_attached_parameter() -> nn.Sequential:
    model = mlp(10)
    model.register_parameter("extra", nn.Parameter(torch.zeros(784, 2000)))
    return model


def with_own_forward() -> nn.Sequential:
    model = mlp(10)
    big = nn.Linear(784, 2000)
    model[1].forward = lambda x: big(x)[:, :10]
    return model


def with_submodule() -> nn.Sequential:
    model = mlp(10)
    model[1].add_module("helper", nn.Linear(784, 2000))
    return model


def with_extra_buffer() -> nn.Sequential:
    model = mlp(10)
    model[1].register_buffer("lookup", torch.zeros(60000, 10))
    return model


def with_pre_hook() -> nn.Sequential:
    model = mlp(10)
    model[1].register_forward_pre_hook(lambda m, inputs: None)
    return model


def linear_before_flatten() -> nn.Sequential:
    """Linear(28, 100) on each image row: 100 weights per row, but 28 x 100 = 2,800 values per image."""
    return nn.Sequential(nn.Linear(28, 100), nn.ReLU(), nn.Flatten(), nn.Linear(2800, 10))


def cnn_of_exactly_a_million() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                         nn.Dropout(0.2), nn.Linear(98, 9174), nn.ReLU(), nn.Linear(9174, 10))


def cnn_with_frozen_layer() -> nn.Sequential:
    """A frozen layer still runs, so its parameters count."""
    model = cnn(channels=8, hidden=1000)          # 1,579,... parameters, most of them in one Linear
    for p in model[5].parameters():
        p.requires_grad_(False)
    return model


def batchnorm_without_running_stats() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8, track_running_stats=False), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * 14 * 14, 10))


def batchnorm_without_affine() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8, affine=False), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * 14 * 14, 10))


MLP_100 = dict(max_hidden_units=100)
# (what, build, check, arguments, None if accepted or the message it must give)
VERDICTS = [
    ("one layer of 100", lambda: mlp(100), check_mlp, MLP_100, None),
    ("60-40 with dropout", lambda: mlp(60, 40, dropout=0.1), check_mlp, dict(MLP_100, min_hidden_layers=2), None),
    ("nested blocks", lambda: nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(784, 50), nn.ReLU()),
                                            nn.Sequential(nn.Linear(50, 50), nn.ReLU()), nn.Linear(50, 10)),
     check_mlp, MLP_100, None),
    ("ending with Softmax", lambda: nn.Sequential(*mlp(100), nn.Softmax(dim=1)), check_mlp, MLP_100, None),
    ("a small CNN", cnn, check_cnn, {}, None),
    ("batch norm without running statistics", batchnorm_without_running_stats, check_cnn, {}, None),
    ("batch norm without affine weights", batchnorm_without_affine, check_cnn, {}, None),
    ("101 hidden units", lambda: mlp(101), check_mlp, MLP_100, r"101 hidden units \(101\); the budget is at most 100"),
    ("a Sigmoid layer", lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 50), nn.Sigmoid(), nn.Linear(50, 10)),
     check_mlp, MLP_100, r"layer 2 is Sigmoid, which this exercise does not allow\. Use only: Flatten, Linear"),
    ("a Linear subclass", lambda: nn.Sequential(nn.Flatten(), Subclassed(784, 10)), check_mlp, MLP_100,
     "layer 1 is Subclassed"),
    ("an nn.Module of its own", Net, check_mlp, MLP_100, "expected a plain nn.Sequential, got Net"),
    ("an nn.Sequential subclass with its own forward", WiderInside, check_mlp, MLP_100,
     r"got WiderInside \(a subclass of nn.Sequential"),
    ("a forward hook adding a 2,000-unit network", hooked_mlp, check_mlp, MLP_100,
     r"hooks are registered \(the model: forward hooks\)"),
    ("a forward pre-hook on a layer", with_pre_hook, check_mlp, MLP_100,
     r"hooks are registered \(layer 1 \(Linear\): forward pre hooks\)"),
    ("a parameter on the nn.Sequential itself", with_attached_parameter, check_mlp, MLP_100,
     "the nn.Sequential itself holds parameter 'extra', which belongs to no layer"),
    ("a layer with its own forward attached", with_own_forward, check_mlp, MLP_100,
     r"layer 1 \(Linear\) has its own forward function attached"),
    ("a layer holding a sub-module", with_submodule, check_mlp, MLP_100, r"layer 1 \(Linear\) holds sub-modules \(helper\)"),
    ("a layer holding an extra buffer", with_extra_buffer, check_mlp, MLP_100,
     r"layer 1 \(Linear\) holds extra tensors \['lookup'\]"),
    ("Linear(28, 100) before Flatten", linear_before_flatten, check_mlp, MLP_100,
     r"2,800 hidden units \(2800\); the budget is at most 100"),
    ("exactly 1,000,000 parameters", cnn_of_exactly_a_million, check_cnn, {},
     "has 1,000,000 parameters; the budget is fewer than 1,000,000"),
    ("a frozen layer", cnn_with_frozen_layer, check_cnn, {}, r"has 1,5\d\d,\d\d\d parameters; the budget is fewer than"),
]


@pytest.mark.parametrize("what, build, check, kwargs, message", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_every_model_gets_the_right_verdict(what, build, check, kwargs, message):
    model = build()
    if message is None:
        check(model, **kwargs)
    else:
        with pytest.raises(BudgetError, match=message):
            check(model, **kwargs)


def test_a_global_hook_is_refused_and_the_check_leaves_no_hook_behind():
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, i, o: None)
    try:
        with pytest.raises(BudgetError, match="every module: global forward hooks"):
            check_mlp(mlp(10), **MLP_100)
    finally:
        handle.remove()
    model = mlp(10)
    check_mlp(model, **MLP_100)
    assert not any(m._forward_hooks for m in model.modules()), "hidden_units must remove its measuring hooks"


def test_the_million_parameter_model_is_exact_and_one_fewer_passes():
    assert helpers.count_parameters(cnn_of_exactly_a_million()) == 1_000_000
    check_cnn(cnn_of_exactly_a_million(), fewer_than=1_000_001)


def test_shape_problems_are_reported_with_a_hint():
    with pytest.raises(BudgetError, match="fails on a batch of shape .*nn.Flatten"):
        check_mlp(nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10)), max_hidden_units=100)
    with pytest.raises(BudgetError, match=r"to shape \(2, 5\); expected \(2, 10\)"):
        check_mlp(nn.Sequential(nn.Flatten(), nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 5)), max_hidden_units=100)


def test_check_output_restores_training_mode():
    model = mlp(20, dropout=0.5)
    model.train()
    check_mlp(model, max_hidden_units=20)
    assert model.training


def test_check_cnn_needs_batchnorm_dropout_and_a_small_enough_model():
    summary = check_cnn(cnn())
    assert summary.parameters == helpers.count_parameters(cnn()) and summary.hidden == [32]
    assert str(summary).startswith("1 convolution layer(s), hidden Linear layer(s) of 32 (32 hidden units)")
    with pytest.raises(BudgetError, match="needs at least one BatchNorm2d"):
        check_cnn(cnn(batchnorm=False))
    with pytest.raises(BudgetError, match="needs at least one Dropout"):
        check_cnn(cnn(dropout=False))
    with pytest.raises(BudgetError, match=r"has 3,2\d\d,\d\d\d parameters; the budget is fewer than 1,000,000"):
        check_cnn(cnn(channels=64, hidden=256))
    with pytest.raises(BudgetError, match="layer 3 is AvgPool2d"):
        check_cnn(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Dropout(),
                                nn.Flatten(), nn.Linear(4 * 13 * 13, 10)))
    check_cnn(cnn(batchnorm=False), required=[nn.Conv2d])


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    return tmp_path


def test_load_checked_loads_a_matching_model(artifacts):
    saved = mlp(30)
    helpers.save_model(saved, helpers.artifact_path("m.pt"), fast=False, train_images=60000)
    model, metrics = load_checked(mlp(30), "m.pt")
    assert metrics == {"fast": False, "train_images": 60000}
    assert all(torch.equal(a, b) for a, b in zip(saved.parameters(), model.parameters()))


def test_load_checked_says_what_to_fix(artifacts):
    with pytest.raises(helpers.ArtifactError, match="No saved model.*Run the training cell"):
        load_checked(mlp(30), "missing.pt")
    helpers.save_model(mlp(30), artifacts / "m.pt")
    with pytest.raises(helpers.ArtifactError, match=r"1.weight: saved \(30, 784\), model has \(40, 784\)"):
        load_checked(mlp(40), "m.pt")
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 30), nn.Tanh(), nn.Linear(30, 10))  # same tensors
    with pytest.raises(helpers.ArtifactError, match="(?s)different architecture.*Tanh.*Re-run the training cell"):
        load_checked(other, artifacts / "m.pt")


def test_accuracy_target_follows_how_the_model_was_trained_outside_grading(monkeypatch):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert accuracy_target({"fast": True, "train_images": 2000}, full=0.98, fast=0.8, subset=0.9)[0] == 0.8
    assert accuracy_target({}, full=0.98, fast=0.8, subset=0.9)[0] == 0.8
    need, why = accuracy_target({"fast": False, "train_images": 5000}, full=0.98, fast=0.8, subset=0.9)
    assert need == 0.9 and "5,000 images" in why
    assert accuracy_target({"fast": False, "train_images": 60000}, full=0.98, fast=0.8, subset=0.9)[0] == 0.98


def test_accuracy_target_while_grading_is_the_graders(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setattr("helpers.data.has_full_training_set", lambda name="MNIST": True)
    assert accuracy_target({"fast": True, "train_images": 2000}, full=0.98, fast=0.8, subset=0.9)[0] == 0.98


def test_graded_test_set_is_whole_for_full_mode_models_and_always_while_grading(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    sizes = []

    def loader():
        sizes.append(helpers.fast_mode())
        return helpers.Dataset("toy", torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.long),
                               torch.zeros(3 if helpers.fast_mode() else 7, 1, 2, 2),
                               torch.zeros(3 if helpers.fast_mode() else 7, dtype=torch.long), ["a"], "toy")

    assert len(graded_test_set({"fast": True}, loader)[1]) == 3
    assert len(graded_test_set({"fast": False}, loader)[1]) == 7
    assert sizes == [True, False] and helpers.fast_mode(), "fast mode is restored afterwards"
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert len(graded_test_set({"fast": True}, loader)[1]) == 7, "the grader scores on its whole test split"


class OwnForward(nn.Module):
    """A network with its own forward (06's ShallowNet): one convolution, one fully connected layer."""

    def __init__(self, trick: str | None = None):
        super().__init__()
        self.conv, self.pool, self.fc = nn.Conv2d(1, 6, 5, padding=2), nn.MaxPool2d(4), nn.Linear(6 * 7 * 7, 10)
        if trick == "frozen":
            self.fc.weight.requires_grad_(False)
        if trick == "buffer":
            self.register_buffer("lookup", torch.zeros(784, 10))
        if trick == "attribute":
            self.lookup = torch.zeros(784, 10)
        if trick == "norm":
            self.norm = nn.BatchNorm2d(6)
        if trick == "hook":
            self.register_forward_hook(lambda m, i, o: o)

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


@pytest.mark.parametrize("trick, message", [
    (None, None), ("frozen", None),
    ("buffer", r"buffer lookup \(7,840 values\) belong\(s\) to no Conv2d, Linear layer"),
    ("attribute", r"tensor attribute lookup \(7,840 values\)"),
    ("norm", r"parameter norm.weight \(6 values\), parameter norm.bias"),
    ("hook", r"hooks are registered \(the model: forward hooks\)"),
])
def test_check_weights_counts_every_weight_of_a_model_with_its_own_forward(trick, message):
    from helpers.budget import check_weights

    model = OwnForward(trick)
    if message is None:
        assert check_weights(model, (nn.Conv2d, nn.Linear)) == 6 * 26 + 294 * 10 + 10 == 3106, "frozen ones count too"
    else:
        with pytest.raises(BudgetError, match=message):
            check_weights(model, (nn.Conv2d, nn.Linear))
