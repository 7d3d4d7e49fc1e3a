"""LMS downloads become one submission per student: ids read by preset or pattern, never guessed."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from coursetools.grade_folder import collect
from coursetools.lms import CollectionError, collect_submissions, detect, file_submission, slug

NB = "filters"


def make(folder: Path, *names: str) -> Path:
    """Files (and folders, for names with a /) in ``folder``, each holding its own name."""
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return folder


def layout(subs) -> dict[str, dict[str, str]]:
    """{student: {where it is filed: the original file's content (its name)}}."""
    return {sid: {rel: path.read_text() for rel, path in sub.files.items()} for sid, sub in subs.items()}


def test_the_issue_s_file_names(tmp_path):
    got = layout(collect_submissions(make(tmp_path / "d", "jane_41_filters.ipynb", "jane_42_filters.ipynb"), NB))
    assert set(got) == {"jane_41", "jane_42"}, "two students, not jane and jane_2"
    got = collect_submissions(make(tmp_path / "m", "Ana Filtersen_88_assignsubmission_file_filters.ipynb",
                                   "Bo Li_7_assignsubmission_file_Copy of filters (1).ipynb"), NB)
    assert set(got) == {"ana_filtersen_88", "bo_li_7"}, "the name keeps its letters, a Moodle id under 100 stays"
    with pytest.raises(CollectionError, match=r"(?s)no student id could be read.*Copy of filters \(1\)\.ipynb"):
        collect_submissions(make(tmp_path / "c", "Copy of filters (1).ipynb", "smith.ipynb"), NB)


def test_canvas_flat_download_with_models_late_and_resubmitted(tmp_path):
    d = make(tmp_path / "canvas", "doejane_12345_678901_filters.ipynb", "doejane_12345_678901_budget_100.pt",
             "smithbob_LATE_23456_789012_filters-1.ipynb", "smithbob_LATE_23456_789012_submission.zip")
    with zipfile.ZipFile(d / "smithbob_LATE_23456_789012_submission.zip", "w") as z:
        z.writestr("artifacts/small_cnn.pt", "bob's model")
    assert detect(d, NB) == "canvas"
    got = layout(collect_submissions(d, NB))
    assert got == {"doejane_12345": {"notebook": "doejane_12345_678901_filters.ipynb",
                                     "artifacts/budget_100.pt": "doejane_12345_678901_budget_100.pt"},
                   "smithbob_23456": {"notebook": "smithbob_LATE_23456_789012_filters-1.ipynb",
                                      "artifacts/small_cnn.pt": "bob's model"}}


def test_moodle_folders_and_flat_files_in_a_zip(tmp_path):
    d = make(tmp_path / "moodle", "Jane Doe_4711_assignsubmission_file/filters.ipynb",
             "Jane Doe_4711_assignsubmission_file/artifacts/budget_100.pt",
             "José Müller_15_assignsubmission_file/Copy of filters.ipynb",
             "José Müller_15_assignsubmission_file/.ipynb_checkpoints/filters-checkpoint.ipynb",
             "__MACOSX/._junk")
    archive = tmp_path / "Filters-12-submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in d.rglob("*"):
            if p.is_file():
                z.write(p, Path("Filters-12-submissions") / p.relative_to(d))
    got = layout(collect_submissions(archive, NB, scratch=tmp_path / "scratch"))
    assert got == {"jane_doe_4711": {"notebook": "Jane Doe_4711_assignsubmission_file/filters.ipynb",
                                     "artifacts/budget_100.pt": "Jane Doe_4711_assignsubmission_file/artifacts/budget_100.pt"},
                   "jose_muller_15": {"notebook": "José Müller_15_assignsubmission_file/Copy of filters.ipynb"}}


def test_blackboard_keeps_each_student_s_latest_attempt(tmp_path):
    d = make(tmp_path / "bb", "Filters_jdoe_attempt_2026-11-30-09-00-00_filters.ipynb",
             "Filters_jdoe_attempt_2026-11-30-09-00-00.txt",
             "Filters_jdoe_attempt_2026-12-01-10-30-00_filters.ipynb",
             "Filters_jdoe_attempt_2026-12-01-10-30-00.txt", "Filters_asmith_attempt_2026-11-29-08-00-00_filters.ipynb")
    assert detect(d, NB) == "blackboard"
    got = layout(collect_submissions(d, NB))
    assert got == {"jdoe": {"notebook": "Filters_jdoe_attempt_2026-12-01-10-30-00_filters.ipynb"},
                   "asmith": {"notebook": "Filters_asmith_attempt_2026-11-29-08-00-00_filters.ipynb"}}


def test_plain_folders_per_student_and_a_custom_pattern(tmp_path):
    d = make(tmp_path / "plain", "jane/filters.ipynb", "jane/artifacts/a.pt", "bob.ipynb")
    assert layout(collect_submissions(d, NB)) == {"jane": {"notebook": "jane/filters.ipynb", "artifacts/a.pt": "jane/artifacts/a.pt"},
                                                  "bob": {"notebook": "bob.ipynb"}}
    d = make(tmp_path / "custom", "hw1-s1234567-filters.ipynb", "hw1-s7654321-filters.ipynb")
    got = collect_submissions(d, NB, pattern=r"hw1-(?P<student>s\d+)-(?P<file>.+)")
    assert set(got) == {"s1234567", "s7654321"}


@pytest.mark.parametrize("names, message", [
    (["Jane.ipynb", "jane.ipynb"], r"(?s)same id.*jane: Jane\.ipynb, jane\.ipynb"),
    (["José Müller_15_assignsubmission_file_filters.ipynb", "Jose Muller_15_assignsubmission_file_filters.ipynb"],
     "same id"),
    (["jane/filters.ipynb", "jane/filters-old.ipynb"], r"jane handed in 2 notebooks"),
    (["jane/notes.txt"], r"jane handed in 0 notebooks"),
])
def test_collisions_and_ambiguity_stop_with_the_files_named(tmp_path, names, message):
    with pytest.raises(CollectionError, match=message):
        collect_submissions(make(tmp_path / "d", *names), NB)


def test_a_zip_that_reaches_outside_is_refused(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    with zipfile.ZipFile(d / "mallory.zip", "w") as z:
        z.writestr("../../escaped.ipynb", "{}")
    with pytest.raises(CollectionError, match="refused"):
        collect_submissions(d, NB, scratch=tmp_path / "s")
    assert not (tmp_path / "escaped.ipynb").exists()


def test_a_rerun_updates_a_student_and_keeps_files_it_did_not_bring(tmp_path):
    root = tmp_path / "course"
    (root / "release" / "01_filters").mkdir(parents=True)
    (root / "release" / "01_filters" / "filters.ipynb").write_text("{}")
    d = make(tmp_path / "d", "jane/filters.ipynb")
    collect("01_filters", d, root)
    dest = root / "submitted" / "jane" / "01_filters"
    make(dest, "artifacts/by_hand.pt")
    (d / "jane" / "filters.ipynb").write_text("second try")
    collect("01_filters", d, root)
    assert (dest / "filters.ipynb").read_text() == "second try"
    assert (dest / "artifacts" / "by_hand.pt").read_text() == "artifacts/by_hand.pt", "an instructor's file was deleted"


def test_slugs_are_gradebook_safe():
    assert slug("José Müller 15") == "jose_muller_15" and slug("  O'Brien--Smith ") == "o_brien_smith"
