"""Grading runs every submission in a sandbox: attacks from inside a notebook land nowhere.

The attackers of ``coursetools.attacks`` are graded in the same nbgrader batch as the honest
reference, the untouched release and the bad submissions of ``01_filters`` (the
``round_trips`` fixture). Each check below looks at evidence outside the attacker: the course's
files, marker files on the host, the loopback listener, the scores, the feedback pages.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from coursetools.attacks import ASSIGNMENT, Attacks, fingerprint
from coursetools.grading import feedback, kernel_environment, sandbox
from coursetools.roundtrip import hidden_test_lines, repo_root, scratch_course

pytestmark = pytest.mark.xdist_group(f"roundtrip-{ASSIGNMENT}")
REPO = repo_root()


def graded(rt, student: str):
    folder = rt.workdir / "autograded" / student / ASSIGNMENT
    return nbformat.read(next(folder.glob("*.ipynb")), as_version=4)


def outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text += [out.get("text", ""), out.get("evalue", ""), *out.get("data", {}).values()]
    return "\n".join(t if isinstance(t, str) else str(t) for t in text)


def attack_lines(rt, student: str) -> dict[str, str]:
    return dict(re.findall(r"ATTACK (.+?): (landed|blocked)", outputs(graded(rt, student))))


EXPECTED = {
    "intruder": {"read_source", "read_graded_copy", "gradebook", "append nbgrader_config.py",
                 "append source/01_filters/filters.ipynb", "read_other_students", "network",
                 "see_grader_process", "grader_environment"},
    "hog": {"raise_limits", "memory", "fork_bomb", "disk_filler .", "disk_filler /tmp"},
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_every_attack_ran_and_was_blocked(student, round_trips):
    rt = round_trips.get(ASSIGNMENT)
    got = attack_lines(rt, student)
    for name, result in sorted(got.items()):
        print(f"{student}: {name}: {result}")
    assert set(got) == EXPECTED[student], f"attacks that did not report: {EXPECTED[student] - set(got)}"
    landed = {k for k, v in got.items() if v == "landed"}
    assert not landed, f"{student}: these attacks landed: {landed}"


def test_output_beyond_the_cap_is_dropped(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    path = next((rt.workdir / "autograded" / "hog" / ASSIGNMENT).glob("*.ipynb"))
    print(f"the flooding student's graded notebook: {path.stat().st_size / 2**20:.1f} MiB")
    assert "[grader: output beyond 8 MiB was dropped]" in outputs(graded(rt, "hog"))
    assert path.stat().st_size < 10 * 2**20


def test_honest_student_keeps_full_marks_beside_the_attackers(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    assert all(c.reference == c.max_score for c in rt.cells), [c for c in rt.cells if c.reference != c.max_score]
    assert all(c.blank in (0, None) for c in rt.cells)


def test_no_course_file_changed(round_trips):
    round_trips.get(ASSIGNMENT)
    attacks = round_trips.attacks()
    after = fingerprint(attacks.watched())
    changed = sorted(k for k in set(after) | set(attacks.before) if after.get(k) != attacks.before.get(k))
    print(f"{len(after)} course files fingerprinted before and after grading")
    assert attacks.before and not changed, f"changed by grading: {changed}"


def test_no_marker_file_appeared_outside(round_trips):
    rt, attacks = round_trips.get(ASSIGNMENT), round_trips.attacks()
    own = rt.workdir / "autograded" / "intruder"
    stray = [p for p in attacks.markers() if own not in p.parents]
    assert not stray, f"marker files outside the sandbox: {stray}"


def test_no_connection_reached_the_grader(round_trips):
    round_trips.get(ASSIGNMENT)
    assert round_trips.attacks().connections() == 0


def test_no_attacker_ran_into_the_cell_timeout(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    for student in Attacks.STUDENTS:
        assert "CellTimeoutError" not in outputs(graded(rt, student)), f"{student} kept the grader waiting"
    print(f"the batch of {len(rt.extra_scores) + 2} students took {rt.seconds:.0f} s")


def test_feedback_never_shows_hidden_tests_even_when_printed(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    source = nbformat.read(next((rt.workdir / "source" / ASSIGNMENT).glob("*.ipynb")), as_version=4)
    hidden = hidden_test_lines(source)
    printed = outputs(graded(rt, "sneaky"))
    assert any(line in printed for line in hidden), "the sneaky student should have printed hidden tests"
    page = next((rt.workdir / "feedback" / "sneaky" / ASSIGNMENT).glob("*.html")).read_text()
    text = feedback.html_text(page)
    assert not [line for line in hidden if line in text]
    assert feedback.REMOVED in text


def test_planted_links_are_removed_before_the_grader_writes(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    folder = rt.workdir / "autograded" / "sneaky" / ASSIGNMENT
    assert "planted links" in outputs(graded(rt, "sneaky"))
    links = [p for p in folder.rglob("*") if p.is_symlink()]
    assert not links, links


def test_patching_a_library_imported_later_earns_nothing(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    wrong, patcher = rt.extra_scores["wrong"], rt.extra_scores["patcher"]
    assert patcher["test_true_convolve2d"][1] == 0, patcher
    gained = {g: (wrong[g][1], patcher[g][1]) for g in patcher if patcher[g][1] > wrong[g][1]}
    assert not gained, gained


def test_files_handed_in_beside_the_notebook_are_never_imported(round_trips):
    rt = round_trips.get(ASSIGNMENT)
    text = outputs(graded(rt, "shadow"))
    assert "SHADOW" not in text, [l for l in text.splitlines() if "SHADOW" in l]
    assert (rt.workdir / "submitted" / "shadow" / ASSIGNMENT / "helpers" / "__init__.py").is_file()
    wrong, shadow = rt.extra_scores["wrong"], rt.extra_scores["shadow"]
    assert shadow == wrong, {g: (wrong[g], shadow[g]) for g in shadow if shadow[g] != wrong[g]}


FORMGRADER = """
import sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
root = sys.argv[1]
config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
api = NbGraderAPI(coursedir=CourseDirectory(root=root, config=config), config=config)
result = api.autograde(sys.argv[2], sys.argv[3])  # what the formgrader's Autograde button calls
print("success:", result["success"])
"""


def _scratch_course(root: Path):
    """A course folder with ``ASSIGNMENT`` released; returns the release and source notebooks."""
    released = scratch_course(root, ASSIGNMENT)
    return (nbformat.read(released / "filters.ipynb", as_version=4),
            nbformat.read(root / "source" / ASSIGNMENT / "filters.ipynb", as_version=4))


def test_the_formgrader_button_grades_in_the_sandbox_too(tmp_path):
    root = tmp_path / "course"
    release, source = _scratch_course(root)
    dest = root / "submitted" / "mallory" / ASSIGNMENT
    dest.mkdir(parents=True)
    nbformat.write(Attacks().notebooks(release, source)["intruder"], dest / "filters.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_ARTIFACTS", "COURSE_GRADING", "COURSE_FAST")}
    proc = subprocess.run([sys.executable, "-c", FORMGRADER, str(root), ASSIGNMENT, "mallory"], cwd=root,
                          capture_output=True, text=True, env=env)
    assert "success: True" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    nb = nbformat.read(root / "autograded" / "mallory" / ASSIGNMENT / "filters.ipynb", as_version=4)
    got = dict(re.findall(r"ATTACK (.+?): (landed|blocked)", outputs(nb)))
    print(got)
    assert set(got) == EXPECTED["intruder"] and "landed" not in got.values()
    assert "fast mode: ON" in outputs(nb), "the button must grade in fast mode, as the command line does"


# ----------------------------------------------------------------------------- without bubblewrap


def test_autograde_refuses_without_bubblewrap_and_runs_no_student_code(tmp_path):
    root = tmp_path / "course"
    nb, _ = _scratch_course(root)
    marker = tmp_path / "student-code-ran"
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')"))
    dest = root / "submitted" / "no_sandbox" / ASSIGNMENT
    dest.mkdir(parents=True)
    nbformat.write(nb, dest / "filters.ipynb")
    bin_dir = Path(sys.executable).parent  # nbgrader, alembic and python, but no bwrap
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ARTIFACTS"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=no_sandbox",
                           f"--CourseDirectory.root={root}"], cwd=root, capture_output=True, text=True,
                          env=dict(env, PATH=str(bin_dir)))
    log = proc.stdout + proc.stderr
    print(log[-1500:])
    assert proc.returncode != 0
    assert "Autograding refused" in log and "bubblewrap" in log and "unsafe_no_sandbox" in log
    assert not marker.exists()
    assert not (root / "autograded" / "no_sandbox" / ASSIGNMENT / "filters.ipynb").exists()


# ----------------------------------------------------------------------------- units


def test_kernel_environment_keeps_out_the_graders_secrets():
    env = kernel_environment({"AWS_SECRET_ACCESS_KEY": "x", "GITHUB_TOKEN": "y", "LANG": "C.UTF-8",
                              "COURSE_FAST": "0", "HOME": "/home/teacher"})
    assert "AWS_SECRET_ACCESS_KEY" not in env and "GITHUB_TOKEN" not in env
    assert env["LANG"] == "C.UTF-8" and env["COURSE_FAST"] == "0" and env["HOME"] == "/tmp"
    assert env["COURSE_GRADING"] == "1" and env["COURSE_SANDBOX"] == "1"
    assert kernel_environment({})["COURSE_FAST"] == "1"


def test_grading_kernels_see_the_same_warnings_whoever_starts_nbgrader():
    """A CI runner's PYTHONWARNINGS=ignore (or -W) would hide a warning that costs points on an
    instructor's machine: the kernel's environment does not depend on it."""
    quiet = kernel_environment({"PYTHONWARNINGS": "ignore", "PYTHONDEVMODE": "1", "LANG": "C.UTF-8"})
    assert quiet == kernel_environment({"LANG": "C.UTF-8"})


def test_scrub_removes_lines_that_reproduce_hidden_tests():
    hidden = {'assert secret_answer(3) == 42, "nope"', ")"}
    text = "ok line\n    assert   secret_answer(3) == 42, \"nope\"  # printed\n)\n"
    out = feedback.scrub(text, {h for h in hidden if len(h) >= feedback.MIN_CHARS})
    assert out.splitlines() == ["ok line", feedback.REMOVED, ")"]
    html_line = "<span>assert secret_answer(3) == 42, &quot;nope&quot;</span>"
    assert feedback.scrub(html_line, hidden) .strip() == feedback.REMOVED
    # Comparisons are not tags: printed as plain text, or as HTML, the line still goes.
    compare = "assert abs(area(x) - 1.5) < 1e-6 and count(x) > 2"
    assert feedback.scrub(f"{compare}\n", {compare}).strip() == feedback.REMOVED
    escaped = compare.replace("<", "&lt;").replace(">", "&gt;")
    assert feedback.scrub(f'<pre><span class="k">{escaped}</span></pre>\n', {compare}).strip() == feedback.REMOVED


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_sandbox_sees_no_course_files_and_no_network(tmp_path):
    for sub in ("work", "run", "tmp"):
        (tmp_path / sub).mkdir()
        if os.geteuid() == 0:
            os.chown(tmp_path / sub, 65534, 65534)
    (tmp_path / "work" / "graded.ipynb").write_text("hidden tests")
    cmd = sandbox.command([], workdir=tmp_path / "work", runtime=tmp_path / "run", scratch=tmp_path / "tmp",
                          limits=sandbox.Limits(),
                          hidden_files=[tmp_path / "work" / "graded.ipynb"],
                          uid=65534 if os.geteuid() == 0 else None)
    probe = f"""
import os, socket, sys
print(os.path.exists({str(REPO / 'source')!r}), os.path.exists({str(REPO / 'nbgrader_config.py')!r}))
print(repr(open('graded.ipynb').read()), os.getuid())
try:
    socket.create_connection(('127.0.0.1', 22), timeout=2); print('net: connected')
except OSError as e:
    print('net:', type(e).__name__)
open('written.txt', 'w').write('ok')
print(os.path.isfile('/course/helpers/__init__.py'))
"""
    cmd = cmd[:cmd.index(sandbox.LAUNCHER)] + [probe]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    print(proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert lines[0] == "False False"
    assert lines[1].startswith("''")
    assert lines[2] in ("net: ConnectionRefusedError", "net: OSError")
    assert (tmp_path / "work" / "written.txt").read_text() == "ok"
    assert lines[3] == "True", "the course's helpers must be mounted at /course/helpers"
    if os.geteuid() == 0:
        assert lines[1].endswith(" 65534")


def test_a_data_folder_named_through_a_link_or_dotdot_is_seen_inside(tmp_path):
    """CI's ../shared/data lies under /tmp, which the sandbox replaces: the kernel must still find it."""
    (tmp_path / "real" / "data").mkdir(parents=True)
    (tmp_path / "real" / "data" / "train.idx").write_text("digits")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    for sub in ("work", "run", "tmp"):
        (tmp_path / sub).mkdir()
        if os.geteuid() == 0:
            os.chown(tmp_path / sub, 65534, 65534)
    env = kernel_environment({"COURSE_DATA_PATH": f"{tmp_path}/work/../link/data"})
    assert env["COURSE_DATA_PATH"] == str(tmp_path / "real" / "data")
    cmd = sandbox.command([], workdir=tmp_path / "work", runtime=tmp_path / "run", scratch=tmp_path / "tmp",
                          limits=sandbox.Limits(), readonly=sandbox.data_dirs(env),
                          uid=65534 if os.geteuid() == 0 else None)
    probe = "import os; print(open(os.path.join(os.environ['COURSE_DATA_PATH'], 'train.idx')).read())"
    cmd = cmd[:cmd.index(sandbox.LAUNCHER)] + [probe]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "digits", proc.stderr


def test_output_cap_keeps_errors_and_the_stderr_signal():
    from coursetools.grading.kernel import SandboxedExecute

    ex = SandboxedExecute(max_output_mb=1)
    ex.reset_execution_trackers()
    ex.clear_before_next_output = False
    ex._output_bytes, ex._notes = 0, set()
    outs = []
    msg = lambda kind, **content: {"msg_type": kind, "content": content, "parent_header": {"msg_id": "m"},
                                   "header": {"msg_type": kind}}
    for _ in range(4):
        ex.output(outs, msg("stream", name="stdout", text="x" * 400_000), None, 0)
    for _ in range(3):
        ex.output(outs, msg("stream", name="stderr", text="a warning"), None, 0)
    ex.output(outs, msg("error", ename="AssertionError", evalue="wrong", traceback=[]), None, 0)
    kinds = [(o.output_type, o.get("name"), len(o.get("text", ""))) for o in outs]
    assert kinds[:2] == [("stream", "stdout", 400_000)] * 2
    assert [k[:2] for k in kinds[2:]] == [("stream", "stdout"), ("stream", "stderr"), ("error", None)]
    assert "dropped" in outs[3].text


UNPRIVILEGED = """
import os, subprocess, sys, tempfile
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from coursetools.grading import sandbox
t = Path(tempfile.mkdtemp())
for s in ("work", "run", "tmp"):
    (t / s).mkdir()
cmd = sandbox.command([], workdir=t / "work", runtime=t / "run", scratch=t / "tmp", limits=sandbox.Limits(), uid=None)
probe = "import os; print(os.getuid(), os.path.exists(%r)); open('x', 'w').write('1')" % (sys.argv[1] + "/source")
proc = subprocess.run(cmd[:cmd.index(sandbox.LAUNCHER)] + [probe], capture_output=True, text=True)
print(proc.returncode, proc.stdout.strip(), (t / "work" / "x").exists(), proc.stderr[-300:])
"""


def _others_can_read(path: Path) -> bool:
    return all(p.stat().st_mode & 0o005 == 0o005 for p in [path, *path.parents])


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None or not Path("/usr/bin/python3").exists()
                    or shutil.which("bwrap") is None or not _others_can_read(REPO / "coursetools"),
                    reason="needs root (to become another user), a system Python and a checkout others may read")
def test_an_unprivileged_grader_gets_the_same_sandbox(tmp_path):
    """As a non-root instructor: bubblewrap in a user namespace, the kernel as that user (here uid 65534)."""
    folder = Path(tempfile.mkdtemp())
    folder.chmod(0o755)
    (folder / "probe.py").write_text(UNPRIVILEGED)
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                           str(folder / "probe.py"), str(REPO)], capture_output=True, text=True, timeout=60,
                          cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    print(proc.stdout, proc.stderr)
    assert proc.stdout.split()[:4] == ["0", "65534", "False", "True"]
