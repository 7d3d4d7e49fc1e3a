"""The committed full-mode report (docs/full-mode.md) is current and healthy, checked cheaply.

The full run itself takes about an hour and is not part of the tests; these tests compare each
source notebook with the hash its last full run recorded, and check the report's verdicts.
"""
from __future__ import annotations

import json

import pytest

from coursetools import full_run
from coursetools.roundtrip import assignments, repo_root
from helpers import report

ROOT = repo_root()


def test_every_notebook_has_a_current_full_run():
    stale = full_run.stale(ROOT, full_run.load(ROOT))
    assert not stale, ("docs/full-mode.md is out of date:\n  " + "\n  ".join(stale)
                       + f"\nRerun `{full_run.RERUN} NN_name` (or `make full NB=NN`) for each and commit the report.")


def test_committed_report_shows_no_error_and_no_missed_target():
    entries = full_run.load(ROOT)
    assert not full_run.problems(entries), "\n".join(full_run.problems(entries))
    for name in assignments(ROOT):
        assert entries[name]["machine"] and entries[name]["seconds"] > 0, name


def test_markdown_is_rendered_from_the_json():
    entries = full_run.load(ROOT)
    assert (ROOT / full_run.REPORT_MD).read_text() == full_run.render(entries), \
        f"docs/full-mode.md was edited by hand or not regenerated; rerun {full_run.RERUN}"


def test_hash_ignores_prose_but_not_code(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("about 5 minutes"),
                                         nbformat.v4.new_code_cell("x = 1")])
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, path)
    before = full_run.notebook_hash(path)
    nb.cells[0].source = "about 8 minutes"
    nbformat.write(nb, path)
    assert full_run.notebook_hash(path) == before
    nb.cells[1].source = "x = 2"
    nbformat.write(nb, path)
    assert full_run.notebook_hash(path) != before


@pytest.mark.parametrize("record, verdict", [
    ({"value": 0.9801, "at_least": 0.975, "margin": 0.002}, None),
    ({"value": 0.9760, "at_least": 0.975, "margin": 0.002}, "0.976 < 0.975 + margin 0.002"),
    ({"value": 0.40, "at_most": 0.6, "margin": 0.0}, None),
    ({"value": 0.61, "at_most": 0.6, "margin": 0.0}, "0.61 > 0.6 - margin 0"),
    ({"value": 12.0}, None),
])
def test_shortfall_holds_the_margin(record, verdict):
    assert full_run.shortfall(record) == verdict


def test_render_marks_errors_missed_targets_and_time():
    entry = {"notebook": "source/x/x.ipynb", "hash": "h", "machine": "2 cores", "date": "2026-12-02",
             "error": "cell 7: ValueError: boom", "seconds": 700.0, "models_mb": 0.0,
             "slowest": [{"index": 7, "seconds": 650.0, "line": "train()"}],
             "measured": [{"name": "test_acc", "value": 0.97, "at_least": 0.975, "at_most": None, "margin": 0.002, "unit": ""},
                          {"name": "time per epoch", "value": 5.2, "at_least": None, "at_most": None, "margin": 0, "unit": "s"}]}
    text = full_run.render({"01_x": entry})
    assert "**error**: cell 7: ValueError: boom" in text
    assert "MISSED: 0.97 < 0.975 + margin 0.002" in text
    assert "under 10 min: **over**" in text and "time per epoch 5.2 s" in text
    assert full_run.problems({"01_x": entry}) == ["01_x: cell 7: ValueError: boom",
                                                  "01_x: test_acc: 0.97 < 0.975 + margin 0.002"]


def test_measured_records_only_when_asked(tmp_path, monkeypatch):
    out = tmp_path / "m.jsonl"
    monkeypatch.delenv(report.MEASURE_ENV, raising=False)
    report.measured("a", 0.5, at_least=0.4)
    assert not out.exists()
    monkeypatch.setenv(report.MEASURE_ENV, str(out))
    report.measured("a", 0.5, at_least=0.4, margin=0.002)
    report.measured("b", 3, unit="s")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"name": "a", "value": 0.5, "at_least": 0.4, "at_most": None, "margin": 0.002, "unit": ""},
                    {"name": "b", "value": 3.0, "at_least": None, "at_most": None, "margin": 0.0, "unit": "s"}]


def test_fast_mode_margins_sit_beside_the_full_run():
    full = {"name": "test_acc", "value": 0.99, "at_least": 0.985, "at_most": None, "margin": 0.002, "unit": ""}
    fast = dict(full, value=0.80, at_least=0.85)
    entry = {"notebook": "n", "hash": "h", "machine": "m", "date": "d", "error": None, "seconds": 60.0,
             "slowest": [], "measured": [full],
             "fast": {"hash": "h", "date": "d", "error": None, "seconds": 30.0, "measured": [fast]}}
    text = full_run.render({"05_x": entry})
    row = next(line for line in text.splitlines() if line.startswith("| test_acc"))
    assert row.count("|") == 10 and "| met |" in row and "MISSED: 0.8 < 0.85 + margin 0.002" in row
    assert full_run.problems({"05_x": entry}) == ["05_x (fast mode): test_acc: 0.8 < 0.85 + margin 0.002"]


def test_a_name_recorded_twice_is_numbered():
    rows = full_run.unique_names([{"name": "a"}, {"name": "a"}, {"name": "b"}, {"name": "a"}])
    assert [r["name"] for r in rows] == ["a", "a (2)", "b", "a (3)"]


def test_a_real_run_records_numbers_times_models_and_the_failing_cell(tmp_path):
    import nbformat
    psutil = pytest.importorskip("psutil")

    cells = ["import helpers, os\nhelpers.measured('acc', 0.91, at_least=0.9, margin=0.002)",
             "assert os.environ['COURSE_FAST'] == '0' and not helpers.fast_mode() and not helpers.grading()\n"
             "helpers.save_model(__import__('torch').nn.Linear(200, 200), helpers.artifact_path('m.pt'))",
             "1 / 0",
             "helpers.measured('never', 1.0)"]
    folder = tmp_path / "source" / "01_tiny"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), folder / "tiny.ipynb")
    said = []
    # This process's own kernels only: the other test worker starts kernels of its own meanwhile.
    kernels = lambda: {p.pid for p in psutil.Process().children(recursive=True)
                       if "ipykernel_launcher" in " ".join(p.cmdline())}
    before = kernels()
    entry = full_run.run_notebook(tmp_path, "01_tiny", said.append)
    assert kernels() <= before, "the kernel must be shut down after the run"
    assert entry["error"].startswith("cell 2: ZeroDivisionError"), entry["error"]
    assert [m["name"] for m in entry["measured"]] == ["acc"]
    assert (tmp_path / "models" / "01_tiny" / "m.pt").is_file() and entry["models_mb"] > 0
    assert not list(folder.glob("artifacts")), "the run must not write into source/"
    assert entry["hash"] == full_run.notebook_hash(folder / "tiny.ipynb")
    assert full_run.problems({"01_tiny": entry}) == [f"01_tiny: {entry['error']}"]
    executed = nbformat.read(tmp_path / full_run.EXECUTED / "tiny.ipynb", as_version=4)
    assert "ZeroDivisionError" in str(executed.cells[2].outputs)


def test_reference_models_are_used_only_from_a_current_error_free_full_run(tmp_path):
    import nbformat

    folder = tmp_path / "source" / "05_x"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), folder / "x.ipynb")
    assert full_run.fresh_models(tmp_path, "05_x") is None, "no report"
    entry = {"hash": full_run.notebook_hash(folder / "x.ipynb"), "error": None, "date": "d"}
    (tmp_path / "docs").mkdir()
    (tmp_path / full_run.REPORT_JSON).write_text(json.dumps({"05_x": entry}))
    assert full_run.fresh_models(tmp_path, "05_x") is None, "a report but no models"
    (tmp_path / "models" / "05_x").mkdir(parents=True)
    (tmp_path / "models" / "05_x" / "m.pt").write_bytes(b"x")
    assert full_run.fresh_models(tmp_path, "05_x") == tmp_path / "models" / "05_x"
    (tmp_path / full_run.REPORT_JSON).write_text(json.dumps({"05_x": dict(entry, error="cell 3: boom")}))
    assert full_run.fresh_models(tmp_path, "05_x") is None, "a run that failed"
    (tmp_path / full_run.REPORT_JSON).write_text(json.dumps({"05_x": entry}))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 2")]), folder / "x.ipynb")
    assert full_run.fresh_models(tmp_path, "05_x") is None, "models of older code"
