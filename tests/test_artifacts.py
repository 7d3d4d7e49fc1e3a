"""helpers.artifacts: saving, loading with clear errors, and fit_or_load while working and while grading."""
import pytest
import torch
from torch import nn

import helpers


def small_mlp(hidden: int = 16) -> nn.Module:
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, 2))


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    return tmp_path


def test_save_and_load_round_trip(tmp_path):
    model = small_mlp()
    path = helpers.save_model(model, tmp_path / "sub" / "model.pt", test_accuracy=0.93, curve=[0.5, 0.7])
    other = small_mlp()
    loaded, metrics = helpers.load_model(other, path)
    assert metrics == {"test_accuracy": 0.93, "curve": [0.5, 0.7]}
    for a, b in zip(model.parameters(), loaded.parameters()):
        assert torch.equal(a, b)


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(helpers.ArtifactError, match="No saved model.*Run the training cell"):
        helpers.load_model(small_mlp(), tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a model")
    with pytest.raises(helpers.ArtifactError, match="not a model saved by helpers.save_model"):
        helpers.load_model(small_mlp(), tmp_path / "corrupt.pt")
    path = helpers.save_model(small_mlp(), tmp_path / "model.pt")
    with pytest.raises(helpers.ArtifactError, match=r"0.weight: saved \(16, 2\), model has \(32, 2\)"):
        helpers.load_model(small_mlp(32), path)


def test_fit_or_load_trains_and_saves_while_working(artifacts):
    calls = []

    def fit(model):
        calls.append(1)
        with torch.no_grad():
            model[0].weight.fill_(0.5)
        return {"accuracy": 0.9}

    model, metrics = helpers.fit_or_load(small_mlp(), "m.pt", fit)
    assert calls == [1] and metrics["accuracy"] == 0.9 and metrics["fast"] is True and metrics["seconds"] >= 0
    assert helpers.artifact_path("m.pt") == artifacts / "m.pt"
    _, saved = helpers.load_model(small_mlp(), artifacts / "m.pt")
    assert saved == metrics
    helpers.fit_or_load(small_mlp(), "m.pt", fit)
    assert calls == [1, 1], "outside grading a training cell always trains"


def test_fit_or_load_loads_the_submission_while_grading(artifacts, monkeypatch, capsys):
    trained = small_mlp()
    with torch.no_grad():
        trained[0].weight.fill_(0.25)
    helpers.save_model(trained, artifacts / "m.pt", accuracy=0.8, fast=False)
    monkeypatch.setenv("COURSE_GRADING", "1")
    model, metrics = helpers.fit_or_load(small_mlp(), "m.pt", lambda m: pytest.fail("must not retrain"))
    assert torch.all(model[0].weight == 0.25) and metrics == {"accuracy": 0.8, "fast": False}
    assert "loaded the submitted model" in capsys.readouterr().out
    assert helpers.required(metrics, full=0.97, fast=0.9) == 0.97


def test_fit_or_load_retrains_a_missing_submission_and_rejects_a_corrupt_one(artifacts, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_GRADING", "1")
    _, metrics = helpers.fit_or_load(small_mlp(), "m.pt", lambda m: {"accuracy": 0.7})
    assert metrics["accuracy"] == 0.7 and (artifacts / "m.pt").is_file()
    assert "no submitted" in capsys.readouterr().out
    assert helpers.required(metrics, full=0.97, fast=0.9) == 0.9
    (artifacts / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(helpers.ArtifactError, match="not a model saved"):
        helpers.fit_or_load(small_mlp(), "bad.pt", lambda m: pytest.fail("must not retrain"))
