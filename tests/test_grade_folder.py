"""An LMS download (a zip, any file names) becomes grades.csv and feedback pages.

How ids and files are read from each LMS's layout is tested without grading in tests/test_lms.py.
"""
import csv
import shutil
import zipfile

import nbformat
import pytest

from coursetools.attacks import Attacks
from coursetools.grade_folder import grade
from coursetools.roundtrip import fill_in, repo_root

NAME, NB = "01_filters", "filters.ipynb"


@pytest.mark.xdist_group("roundtrip-01_filters")
def test_a_folder_of_renamed_notebooks_is_graded_into_a_csv(tmp_path):
    repo = repo_root()
    root = tmp_path / "course"
    shutil.copytree(repo / "source" / NAME, root / "source" / NAME, ignore=shutil.ignore_patterns("artifacts"))
    shutil.copytree(repo / "release" / NAME, root / "release" / NAME)
    shutil.copy2(repo / "nbgrader_config.py", root / "nbgrader_config.py")
    release = nbformat.read(repo / "release" / NAME / NB, as_version=4)
    done = fill_in(release, nbformat.read(repo / "source" / NAME / NB, as_version=4))
    # Moodle's "Download all submissions", in folders, as the zip the instructor gets.
    uploads = tmp_path / "lms"
    jane, blank = uploads / "Jane Doe_4711_assignsubmission_file", uploads / "Bo Li_12_assignsubmission_file"
    for folder in (jane, blank):
        folder.mkdir(parents=True)
    nbformat.write(done, jane / "filters.ipynb")
    nbformat.write(release, blank / "Copy of filters.ipynb")
    source = nbformat.read(repo / "source" / NAME / NB, as_version=4)
    nbformat.write(Attacks().notebooks(release, source)["intruder"],
                   uploads / "Mallory X_99_assignsubmission_file_filters (1).ipynb")
    download = tmp_path / "Filters-42-submissions.zip"
    with zipfile.ZipFile(download, "w") as z:
        for p in uploads.rglob("*.ipynb"):
            z.write(p, p.relative_to(uploads))

    rows = {r["student_id"]: r for r in grade(NAME, download, root, jobs=2)}  # the command's default: in parallel
    assert set(rows) == {"jane_doe_4711", "bo_li_12", "mallory_x_99"}
    points = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in release.cells
                 if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    assert float(rows["jane_doe_4711"]["score"]) == points > 0
    assert float(rows["bo_li_12"]["score"]) == 0
    with open(root / "grades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 3
    attacked = (root / "autograded" / "mallory_x_99" / NAME / NB).read_text()
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
