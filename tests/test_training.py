import pytest
import torch
from torch import nn

import helpers
from helpers import Batches, training


def toy_problem(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


def small_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def test_training_lowers_the_loss_and_records_history():
    x, y = toy_problem()
    model = small_mlp()
    hist = helpers.train(model, Batches(x, y, 64), epochs=5, val_batches=Batches(x, y, 256, shuffle=False),
                         optimizer=torch.optim.SGD(model.parameters(), lr=0.5))
    assert len(hist.loss) == len(hist.accuracy) == len(hist.val_accuracy) == len(hist.seconds) == 5
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert hist.val_accuracy[-1] > 0.9
    assert all(s > 0 for s in hist.seconds)
    assert set(hist.as_dict()) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}


def test_training_is_deterministic_with_seeds():
    x, y = toy_problem()
    runs = []
    for _ in range(2):
        model = small_mlp()
        runs.append(helpers.train(model, Batches(x, y, 64, seed=1), epochs=2).loss)
    assert runs[0] == runs[1]


def test_evaluate_and_accuracy_agree():
    x, y = toy_problem()
    model = small_mlp()
    _, acc = helpers.evaluate(model, Batches(x, y, 100, shuffle=False))
    assert acc == pytest.approx(helpers.accuracy(model, x, y))
    assert model.training, "evaluate restores training mode"


def test_count_parameters():
    model = small_mlp()
    assert helpers.count_parameters(model) == 2 * 16 + 16 + 16 * 2 + 2
    model[0].weight.requires_grad_(False)
    assert helpers.count_parameters(model) == 16 + 16 * 2 + 2
    assert helpers.count_parameters(model, trainable_only=False) == 82


def test_progress_bar_is_quiet_in_tests(monkeypatch):
    monkeypatch.setenv("COURSE_QUIET", "1")
    assert not training._show_progress()
