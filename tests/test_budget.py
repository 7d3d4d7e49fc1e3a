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


def test_subclasses_and_custom_modules_are_not_allowed():
    with pytest.raises(BudgetError, match="layer 1 is Subclassed"):
        check_layers(nn.Sequential(nn.Flatten(), Subclassed(784, 10)), [nn.Flatten, nn.Linear])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(x.flatten(1))

    with pytest.raises(BudgetError, match="expected an nn.Sequential, got Net"):
        check_mlp(Net(), max_hidden_units=100)


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
    with pytest.raises(BudgetError, match=r"has 3,2\d\d,\d\d\d parameters; the budget is at most 1,000,000"):
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


def test_accuracy_target_follows_how_the_model_was_trained():
    assert accuracy_target({"fast": True, "train_images": 2000}, full=0.98, fast=0.8, subset=0.9)[0] == 0.8
    assert accuracy_target({}, full=0.98, fast=0.8, subset=0.9)[0] == 0.8
    need, why = accuracy_target({"fast": False, "train_images": 5000}, full=0.98, fast=0.8, subset=0.9)
    assert need == 0.9 and "5,000 images" in why
    assert accuracy_target({"fast": False, "train_images": 60000}, full=0.98, fast=0.8, subset=0.9)[0] == 0.98


def test_graded_test_set_is_whole_for_full_mode_models(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    sizes = []

    def loader():
        sizes.append(helpers.fast_mode())
        return helpers.Dataset("toy", torch.zeros(4, 1, 2, 2), torch.zeros(4, dtype=torch.long),
                               torch.zeros(3 if helpers.fast_mode() else 7, 1, 2, 2),
                               torch.zeros(3 if helpers.fast_mode() else 7, dtype=torch.long), ["a"], "toy")

    assert len(graded_test_set({"fast": True}, loader)[1]) == 3
    assert len(graded_test_set({"fast": False}, loader)[1]) == 7
    assert sizes == [True, False] and helpers.fast_mode(), "fast mode is restored afterwards"
