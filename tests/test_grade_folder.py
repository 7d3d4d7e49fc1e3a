"""An LMS download (one notebook per student, any names) becomes grades.csv and feedback pages."""
import csv
import shutil

import nbformat
import pytest

from coursetools.attacks import Attacks
from coursetools.grade_folder import grade, student_id
from coursetools.roundtrip import fill_in, repo_root

NAME, NB = "01_filters", "filters.ipynb"


@pytest.mark.parametrize("upload, expected", [
    ("Jane Doe_4711_assignsubmission_file_filters.ipynb", "jane_doe_4711"),
    ("Jane Doe_4711_assignsubmission_file_filters (1).ipynb", "jane_doe_4711"),
    ("Copy of filters.ipynb", "copy_of_filters"),
    ("smith.ipynb", "smith"),
])
def test_student_ids_from_file_names(upload, expected):
    assert student_id(upload, "filters") == expected


@pytest.mark.xdist_group("roundtrip-01_filters")
def test_a_folder_of_renamed_notebooks_is_graded_into_a_csv(tmp_path):
    repo = repo_root()
    root = tmp_path / "course"
    shutil.copytree(repo / "source" / NAME, root / "source" / NAME, ignore=shutil.ignore_patterns("artifacts"))
    shutil.copytree(repo / "release" / NAME, root / "release" / NAME)
    shutil.copy2(repo / "nbgrader_config.py", root / "nbgrader_config.py")
    release = nbformat.read(repo / "release" / NAME / NB, as_version=4)
    done = fill_in(release, nbformat.read(repo / "source" / NAME / NB, as_version=4))
    uploads = tmp_path / "lms"
    uploads.mkdir()
    nbformat.write(done, uploads / "Jane Doe_4711_assignsubmission_file_filters.ipynb")
    nbformat.write(release, uploads / "Copy of filters.ipynb")
    source = nbformat.read(repo / "source" / NAME / NB, as_version=4)
    nbformat.write(Attacks().notebooks(release, source)["intruder"], uploads / "mallory_filters.ipynb")

    rows = {r["student_id"]: r for r in grade(NAME, uploads, root, jobs=2)}  # the command's default: in parallel
    assert set(rows) == {"jane_doe_4711", "copy_of_filters", "mallory"}
    points = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in release.cells
                 if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    assert float(rows["jane_doe_4711"]["score"]) == points > 0
    assert float(rows["copy_of_filters"]["score"]) == 0
    with open(root / "grades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3
    attacked = (root / "autograded" / "mallory" / NAME / NB).read_text()
    assert attacked.count("ATTACK ") >= 9 and ": landed" not in attacked, "an attack landed through grade_folder"
    for sid in rows:
        assert (root / "feedback" / sid / NAME / "filters.html").is_file()


def test_the_summary_warns_when_this_grader_lacks_full_mnist(monkeypatch):
    from coursetools.grade_folder import data_warning

    monkeypatch.setattr("helpers.data.has_full_training_set", lambda name="MNIST": False)
    warning = data_warning(repo_root(), "05_mnist_depth_width")
    assert warning.startswith("WARNING: this machine has only the offline MNIST subset") and "COURSE_DATA_PATH" in warning
    assert data_warning(repo_root(), "01_filters") is None, "01 grades no model against an MNIST target"
    monkeypatch.setattr("helpers.data.has_full_training_set", lambda name="MNIST": True)
    assert data_warning(repo_root(), "05_mnist_depth_width") is None
