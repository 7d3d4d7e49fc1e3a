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


def test_grading_never_trains_a_missing_model_and_rejects_a_corrupt_one(artifacts, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(helpers.ArtifactError, match=r"No .*m\.pt was handed in.*score zero.*hand in the .* folder"):
        helpers.fit_or_load(small_mlp(), "m.pt", lambda m: pytest.fail("grading must never train"))
    assert not (artifacts / "m.pt").exists()
    (artifacts / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(helpers.ArtifactError, match="not a model saved"):
        helpers.fit_or_load(small_mlp(), "bad.pt", lambda m: pytest.fail("must not retrain"))


@pytest.mark.parametrize("metrics", [{"fast": True}, {}, {"fast": False, "train_images": 2000},
                                     {"fast": False, "n_train": 60000}, {"fast": False, "train_images": 10**9}])
def test_while_grading_nothing_in_the_file_lowers_the_target(metrics, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setattr("helpers.data.has_full_training_set", lambda name="MNIST": True)
    assert helpers.artifacts.target(metrics, full=0.97, fast=0.8, subset=0.9) == (0.97, "the grader's target")
    assert helpers.required(metrics, full=0.97, fast=0.8) == 0.97


def test_only_a_grader_without_the_full_dataset_lowers_the_target_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setattr("helpers.data.has_full_training_set", lambda name="MNIST": False)
    value, why = helpers.artifacts.target({"fast": False, "train_images": 60000}, full=0.97, fast=0.8, subset=0.9)
    assert value == 0.9 and why.startswith("LOWER TARGET: the grading machine has only the offline MNIST subset")
    assert helpers.required({}, full=0.97, fast=0.8, subset=0.9) == 0.9 and "LOWER TARGET" in capsys.readouterr().out
    assert helpers.required({}, full=0.97, fast=0.8) == 0.97, "without a subset target the full one applies"


def test_the_ci_fallback_applies_only_to_fast_models_and_says_so(monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    monkeypatch.setenv(helpers.artifacts.FAST_MODELS_ENV, "1")
    value, why = helpers.artifacts.target({"fast": True}, full=0.97, fast=0.8)
    assert value == 0.8 and why.startswith("CI FALLBACK") and "students are always held to 0.97" in why
    assert helpers.artifacts.target({"fast": False}, full=0.97, fast=0.8)[0] == 0.97


def test_outside_grading_the_target_follows_the_training_and_names_the_grading_one(monkeypatch):
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    value, why = helpers.artifacts.target({"fast": True}, full=0.97, fast=0.8, subset=0.9)
    assert value == 0.8 and "grading holds it to 0.97" in why
    value, why = helpers.artifacts.target({"fast": False, "train_images": 4000}, full=0.97, fast=0.8, subset=0.9)
    assert value == 0.9 and "4,000 images" in why
    assert helpers.artifacts.target({"fast": False, "n_train": 60000}, full=0.97, fast=0.8, subset=0.9)[0] == 0.97
    assert helpers.artifacts.target({"fast": False, "train_images": 4000}, full=0.97, fast=0.8)[0] == 0.97