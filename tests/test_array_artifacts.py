"""helpers.array_artifacts: NumPy models saved, loaded and graded like torch modules."""
import numpy as np
import pytest

import helpers
from helpers.array_artifacts import ArrayBundle, fit_or_load_arrays, load_arrays

SHAPES = {"W": (4, 3), "b": (3,)}


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ARTIFACTS", str(tmp_path))
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    return tmp_path


def weights(seed: int = 0) -> dict:
    g = np.random.default_rng(seed)
    return {"W": g.normal(size=(4, 3)).astype(np.float32), "b": g.normal(size=3)}


def test_bundle_holds_arrays_and_checks_shapes():
    bundle = ArrayBundle(SHAPES)
    w = weights()
    bundle.set_arrays(w)
    out = bundle.arrays()
    assert out["W"].dtype == np.float64 and np.array_equal(out["W"], w["W"].astype(np.float64))
    assert np.array_equal(out["b"], w["b"])
    out["b"][0] = 99.0
    assert bundle.arrays()["b"][0] != 99.0, "arrays() must return copies"
    with pytest.raises(ValueError, match=r"'W' has shape \(3, 4\), expected \(4, 3\)"):
        bundle.set_arrays({"W": np.zeros((3, 4)), "b": np.zeros(3)})
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        bundle.set_arrays({"W": np.zeros((4, 3))})


def test_fit_or_load_arrays_trains_saves_and_loads(artifacts):
    calls = []

    def fit():
        calls.append(1)
        return weights(), {"accuracy": 0.9, "curve": [0.5, 0.9]}

    arrays, metrics = fit_or_load_arrays("net.pt", SHAPES, fit)
    assert calls == [1] and metrics["accuracy"] == 0.9 and metrics["fast"] is True
    assert np.allclose(arrays["W"], weights()["W"])
    loaded, saved = load_arrays(artifacts / "net.pt", SHAPES)
    assert saved == metrics
    assert all(np.array_equal(loaded[k], arrays[k]) for k in SHAPES)


def test_grading_loads_the_submission_and_never_trains_a_missing_one(artifacts, monkeypatch, capsys):
    fit_or_load_arrays("net.pt", SHAPES, lambda: (weights(1), {"accuracy": 0.8}))
    monkeypatch.setenv("COURSE_GRADING", "1")
    arrays, metrics = fit_or_load_arrays("net.pt", SHAPES, lambda: pytest.fail("must not retrain"))
    assert np.allclose(arrays["b"], weights(1)["b"]) and metrics["accuracy"] == 0.8
    assert "loaded the submitted model" in capsys.readouterr().out
    with pytest.raises(helpers.ArtifactError, match="other.pt was handed in"):
        fit_or_load_arrays("other.pt", SHAPES, lambda: pytest.fail("grading must never train"))
    assert not (artifacts / "other.pt").exists()


def test_load_errors_say_what_to_do(artifacts):
    with pytest.raises(helpers.ArtifactError, match="No saved model"):
        load_arrays(artifacts / "missing.pt", SHAPES)
    (artifacts / "corrupt.pt").write_bytes(b"not a model")
    with pytest.raises(helpers.ArtifactError, match="not a model saved"):
        load_arrays(artifacts / "corrupt.pt", SHAPES)
    fit_or_load_arrays("net.pt", SHAPES, lambda: (weights(), {}))
    with pytest.raises(helpers.ArtifactError, match=r"W: saved \(4, 3\), model has \(5, 3\)"):
        load_arrays(artifacts / "net.pt", {"W": (5, 3), "b": (3,)})
