"""The student and instructor experience in a real browser: JupyterLab driven by Playwright.

A JupyterLab server runs on loopback on a scratch copy of the course directory; headless
Chromium (COURSE_CHROMIUM, else chromium, chromium-browser or google-chrome on PATH; nothing is downloaded)
plays a student who runs a notebook, fixes an exercise and validates, a student who plays
with the filter widget, and an instructor who opens the formgrader. Every step saves a
screenshot under test-output/e2e/, kept after failures too.

Where no browser is installed the suite skips with a message; under CI (the CI variable
is set) a missing browser is a failure, because `.ci/run` installs one, unless `.ci/run` could
not (no root, no sudo) and says so in COURSE_SKIP_BROWSER.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from coursetools.roundtrip import assignments, grade_id

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-output" / "e2e"
ASSIGNMENT, NOTEBOOK = "01_filters", "filters.ipynb"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]
# JupyterLab settings for a test run: render every cell (no virtual scrolling) and no news pop-up.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def chromium() -> str | None:
    path = (os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
            or shutil.which("google-chrome"))
    return path if path and Path(path).exists() else None


def _need_browser():
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "the Python package playwright is not installed (it is in requirements.txt: run `make venv`)"
    if why is None and chromium() is None:
        why = "no Chromium found (Debian: `apt-get install chromium`; or set COURSE_CHROMIUM to its path)"
    if why and os.environ.get("COURSE_SKIP_BROWSER"):  # .ci/run could not install a browser, and says so
        pytest.skip(f"browser tests skipped: {os.environ['COURSE_SKIP_BROWSER']} ({why})")
    if why and os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI, but {why}")
    if why:
        pytest.skip(f"browser tests skipped: {why}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on a scratch course directory, and a browser page pointed at it."""

    def __init__(self, work: Path, page, base: str, token: str):
        self.work, self.page, self.base, self.token = work, page, base, token

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base}/lab/tree/{path}?token={self.token}")
        self.page.wait_for_selector(".jp-NotebookPanel:visible .jp-Cell", timeout=90_000)
        # the status bar says "Python 3 (ipykernel) | Idle" once the kernel is ready for input
        self.page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=120_000)

    def cell(self, index: int):
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(index)

    def run(self, index: int, timeout: float = 120) -> str:
        """Select cell ``index``, press Shift+Enter as a student would, wait, return its output text."""
        cell = self.cell(index)
        prompt = cell.locator(".jp-InputArea-prompt")
        prompt.click()
        self.page.keyboard.press("Shift+Enter")
        start = time.time()
        while time.time() < start + timeout:
            text = prompt.inner_text()
            if re.search(r"\[\d+\]", text):
                break
            if text.strip() == "[ ]:" and time.time() > start + 10:  # the key press was lost: press again
                prompt.click()
                self.page.keyboard.press("Shift+Enter")
                start += 10
            time.sleep(0.2)
        else:
            self.shot(f"timeout_cell_{index}")
            raise AssertionError(f"cell {index} did not finish in {timeout} s (prompt {prompt.inner_text()!r})")
        output = cell.locator(".jp-Cell-outputArea")
        return output.inner_text() if output.count() else ""

    def type_into(self, index: int, text: str) -> None:
        """Replace the text of cell ``index`` as if typed (no auto-indent or bracket closing)."""
        cell = self.cell(index)
        if "jp-MarkdownCell" in (cell.get_attribute("class") or ""):
            cell.dblclick()  # a rendered markdown cell opens its editor on a double click
        editor = cell.locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def save(self) -> None:
        self.page.keyboard.press("Control+s")
        self.page.wait_for_timeout(1500)

    def validate(self, timeout: float = 300) -> str:
        """Press nbgrader's Validate button and return the text of the dialog it opens."""
        self.page.locator(".jp-NotebookPanel:visible .jp-Toolbar").get_by_text("Validate", exact=True).click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=timeout * 1000)
        body = dialog.locator(".jp-Dialog-body")
        deadline = time.time() + timeout
        while time.time() < deadline and "alidat" in body.inner_text() and len(body.inner_text()) < 20:
            time.sleep(0.5)
        return dialog.inner_text()

    def close_dialog(self) -> None:
        self.page.locator(".jp-Dialog button").last.click()
        self.page.locator(".jp-Dialog").wait_for(state="detached")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _need_browser()
    from playwright.sync_api import sync_playwright

    work = tmp_path_factory.mktemp("course")
    for d in ("helpers", "coursetools", "release", "source", "notebooks"):
        shutil.copytree(REPO / d, work / d, ignore=shutil.ignore_patterns("__pycache__", "artifacts", ".ipynb_*"))
    shutil.copy2(REPO / "nbgrader_config.py", work / "nbgrader_config.py")
    settings = work / ".lab-settings"
    for name, value in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, COURSE_FAST="1", COURSE_QUIET="1", JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTER_RUNTIME_DIR=str(work / ".runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / ".workspaces"), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in ("COURSE_ARTIFACTS", "MPLBACKEND"):  # test-run settings a student's Jupyter does not have
        env.pop(name, None)
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(
        [str(bin_dir / "jupyter"), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start in 120 s; see " + str(work / "lab.log"))
        if server.poll() is not None:
            pytest.fail("JupyterLab exited:\n" + (work / "lab.log").read_text()[-3000:])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(60_000)
            yield Lab(work, page, base, token)
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _cells(path: Path):
    return nbformat.read(path, as_version=4).cells


def _index(cells, gid: str) -> int:
    return next(i for i, c in enumerate(cells) if grade_id(c) == gid)


def _reference(gid: str) -> str:
    """The reference solution of a solution cell, without nbgrader's markers."""
    source = _cells(REPO / "source" / ASSIGNMENT / NOTEBOOK)[_index(_cells(REPO / "source" / ASSIGNMENT / NOTEBOOK), gid)]
    return "\n".join(l for l in source.source.splitlines() if "### BEGIN SOLUTION" not in l and "### END SOLUTION" not in l)


def test_student_runs_a_visible_test_fixes_the_exercise_and_passes(lab):
    cells = _cells(lab.work / "release" / ASSIGNMENT / NOTEBOOK)
    solution = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution")
                    and c.cell_type == "code")
    test = solution + 1
    assert cells[test].metadata["nbgrader"].get("grade"), "the first exercise should be followed by its test cell"
    lab.open(f"release/{ASSIGNMENT}/{NOTEBOOK}")
    lab.shot("01_opened")
    outputs = [lab.run(i) for i in range(test + 1) if cells[i].cell_type == "code"]
    assert "fast mode" in outputs[0] and "device:" in outputs[0], f"setup cell printed {outputs[0]!r}"
    assert "NotImplementedError" in outputs[-1], f"the visible test should fail on the stub; it printed {outputs[-1]!r}"
    lab.cell(test).scroll_into_view_if_needed()
    lab.shot("02_visible_test_fails")

    lab.type_into(solution, _reference(grade_id(cells[solution])))
    lab.run(solution)
    out = lab.run(test)
    assert "\u2713" in out and "Error" not in out, f"after the fix the visible test printed {out!r}"
    lab.cell(test).scroll_into_view_if_needed()
    lab.shot("03_visible_test_passes")


def test_validate_button_fails_on_the_release_and_passes_when_every_exercise_is_done(lab):
    folder = lab.work / "student" / ASSIGNMENT
    folder.mkdir(parents=True)
    shutil.copy2(lab.work / "release" / ASSIGNMENT / NOTEBOOK, folder / NOTEBOOK)
    lab.open(f"student/{ASSIGNMENT}/{NOTEBOOK}")
    text = lab.validate()
    lab.shot("04_validate_fails")
    assert "NotImplementedError" in text or "failed" in text.lower(), f"validation dialog said: {text[:500]!r}"
    lab.close_dialog()

    cells = _cells(folder / NOTEBOOK)
    for i, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("solution"):  # code exercises and written answers
            lab.type_into(i, _reference(grade_id(cell)))
    lab.save()
    text = lab.validate()
    lab.shot("05_validate_passes")
    assert "Success" in text and "NotImplementedError" not in text, f"validation dialog said: {text[:800]!r}"
    lab.close_dialog()


def test_filter_playground_widget_redraws_when_a_kernel_value_changes(lab):
    lab.open("notebooks/filter_playground.ipynb")
    lab.run(1)
    lab.run(2)
    widget = lab.cell(2).locator(".jupyter-widgets").first
    widget.wait_for()
    image = lab.cell(2).locator(".widget-output img").first
    image.wait_for()
    before = image.get_attribute("src")
    lab.shot("06_playground_identity")
    boxes = lab.cell(2).locator(".widget-text input")
    assert boxes.count() == 9, f"expected 9 kernel boxes, found {boxes.count()}"
    centre = boxes.nth(4)
    centre.fill("-1")
    centre.press("Enter")
    deadline = time.time() + 60  # the widget redraws its figure: a new image replaces the old one
    while time.time() < deadline and image.get_attribute("src") == before:
        time.sleep(0.3)
    after = image.get_attribute("src")
    lab.shot("07_playground_changed")
    assert after != before, "the filtered image did not change after the kernel changed"
    stats = lab.cell(2).locator(".widget-html").last.inner_text()
    assert "kernel sum -1.00" in stats, f"the widget's summary should show the new kernel sum; it shows {stats!r}"


def test_instructor_sees_every_assignment_in_the_formgrader(lab):
    lab.page.goto(f"{lab.base}/formgrader?token={lab.token}")
    names = assignments(REPO)
    for name in names:
        lab.page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
    lab.shot("08_formgrader")
    body = lab.page.locator("body").inner_text()
    missing = [n for n in names if n not in body]
    assert not missing, f"formgrader does not list {missing}"
