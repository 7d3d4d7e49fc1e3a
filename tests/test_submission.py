"""helpers.submission_zip: the saved notebook and artifacts/ in one zip, on Jupyter and (faked) Colab."""
from __future__ import annotations

import json
import sys
import time
import types
import zipfile

import pytest

import helpers
from coursetools.lms import collect_submissions


@pytest.fixture
def student(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    monkeypatch.delenv("COURSE_ARTIFACTS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "budget_100.pt").write_bytes(b"weights")
    time.sleep(0.01)
    (tmp_path / "mnist_depth_width.ipynb").write_text(json.dumps({"cells": [], "saved": "on disk"}))
    return tmp_path


def names(path):
    with zipfile.ZipFile(path) as z:
        return sorted(z.namelist())


def test_jupyter_zip_holds_the_notebook_and_models_and_grade_folder_reads_it(student, capsys):
    path = helpers.submission_zip("05_mnist_depth_width")
    assert path.name == "05_mnist_depth_width_submission.zip"
    assert names(path) == ["artifacts/budget_100.pt", "mnist_depth_width.ipynb"]
    out = capsys.readouterr().out
    assert "Hand in" in out and "WARNING" not in out
    # As Moodle hands it to the instructor: the LMS prefix on the zip's name.
    lms = student / "download"
    lms.mkdir()
    (lms / f"Jane Doe_4711_assignsubmission_file_{path.name}").write_bytes(path.read_bytes())
    subs = collect_submissions(lms, "mnist_depth_width", scratch=student / "scratch")
    assert sorted(subs["jane_doe_4711"].files) == ["artifacts/budget_100.pt", "notebook"]


def test_a_notebook_saved_before_the_last_model_is_flagged(student, capsys):
    time.sleep(0.01)
    (student / "artifacts" / "small_cnn.pt").write_bytes(b"newer weights")
    helpers.submission_zip("05_mnist_depth_width")
    assert "last saved before the newest model" in capsys.readouterr().out


def test_no_models_and_no_notebook_are_said(student, capsys):
    for p in (student / "artifacts").iterdir():
        p.unlink()
    (student / "mnist_depth_width.ipynb").rename(student / "a.txt")
    path = helpers.submission_zip("05_mnist_depth_width")
    out = capsys.readouterr().out
    assert "no saved models" in out and "NOT in the zip" in out and names(path) == []


def test_the_notebook_jupyter_names_wins_over_other_notebooks(student, monkeypatch):
    (student / "scratch.ipynb").write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(student / "mnist_depth_width.ipynb"))
    assert "mnist_depth_width.ipynb" in names(helpers.submission_zip("05_mnist_depth_width"))


def test_grading_makes_no_zip(student, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING", "1")
    assert helpers.submission_zip("05_mnist_depth_width") is None
    assert not list(student.glob("*.zip"))


def fake_colab(monkeypatch, reply):
    downloads = []
    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")
    message, files = types.ModuleType("google.colab._message"), types.ModuleType("google.colab.files")

    def blocking_request(kind, timeout_sec=None):
        if isinstance(reply, Exception):
            raise reply
        return reply

    message.blocking_request = blocking_request
    files.download = downloads.append
    colab._message, colab.files, google.colab = message, files, colab
    for name, mod in (("google", google), ("google.colab", colab), ("google.colab._message", message),
                      ("google.colab.files", files)):
        monkeypatch.setitem(sys.modules, name, mod)
    return downloads


def test_colab_fetches_the_open_notebook_and_offers_the_zip(student, monkeypatch):
    (student / "mnist_depth_width.ipynb").unlink()  # in Colab the notebook is not on the kernel's disk
    downloads = fake_colab(monkeypatch, {"ipynb": {"cells": [], "saved": "in Colab"}})
    path = helpers.submission_zip("05_mnist_depth_width")
    assert downloads == [path.name]
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("mnist_depth_width.ipynb"))["saved"] == "in Colab"


def test_colab_without_the_api_tells_the_student_to_download_the_notebook(student, monkeypatch, capsys):
    (student / "mnist_depth_width.ipynb").unlink()
    downloads = fake_colab(monkeypatch, RuntimeError("no frontend"))
    path = helpers.submission_zip("05_mnist_depth_width")
    out = capsys.readouterr().out
    assert "File > Download > Download .ipynb" in out and downloads
    assert names(path) == ["artifacts/budget_100.pt"]
