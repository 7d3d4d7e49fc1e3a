"""A fresh machine: .ci/packages.sh (apt-get only where allowed), make's venv check and the CI workflow.

The shell functions run with fake commands on PATH (id, sudo, apt-get, browsers), so every case
of a machine is tried here without installing anything.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "packages.sh"


def fake_bin(folder: Path, uid: int, sudo: bool, apt_gives: dict[str, str] | None, have: tuple[str, ...] = ()) -> Path:
    """A PATH of only the basic commands plus fakes: id, sudo, apt-get (installing fake programs), browsers."""
    folder.mkdir()
    for tool in ("bash", "sh", "cat", "echo", "true", "rm", "mkdir", "chmod", "printf"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if sudo:
        (folder / "sudo").write_text('#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n')
    if apt_gives is not None:  # apt-get install PKG: creates the program that package provides
        cases = "".join(f'  {pkg}) printf "#!/bin/sh\\necho {prog} 1.0\\n" > "{folder}/{prog}"; '
                        f'chmod +x "{folder}/{prog}";;\n' for pkg, prog in apt_gives.items())
        (folder / "apt-get").write_text(f'#!/bin/sh\n[ "$1" = install ] || exit 0\nfor p in "$@"; do case "$p" in\n'
                                        f'{cases}  -*|install) ;;\n  *) exit 100;;\nesac; done\n')
    for prog in have:
        (folder / prog).write_text(f"#!/bin/sh\necho {prog}\n")
    for f in folder.iterdir():
        if not f.is_symlink():
            f.chmod(0o755)
    return folder


def setup(folder: Path) -> tuple[str, str]:
    """Run system_setup; return (its output, COURSE_SKIP_BROWSER afterwards)."""
    proc = subprocess.run(["bash", "-c", f'set -euo pipefail; source "{SCRIPT}"; system_setup; '
                           f'echo "SKIP=${{COURSE_SKIP_BROWSER:-}}"; echo "BROWSER=$(find_browser)"'],
                          env={"PATH": str(folder)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stdout.split("SKIP=")[1].split("\n")[0]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_user_without_root_or_sudo_gets_a_clear_skip_not_a_stop(tmp_path):
    out, skip = setup(fake_bin(tmp_path / "bin", uid=1000, sudo=False, apt_gives={"chromium": "chromium"}))
    assert "could not install bubblewrap" in out and "browser tests will be SKIPPED" in out
    assert skip.startswith("no Chromium") and "BROWSER=\n" in out


def test_root_on_debian_installs_both(tmp_path):
    folder = fake_bin(tmp_path / "bin", uid=0, sudo=False, apt_gives={"bubblewrap": "bwrap", "chromium": "chromium"})
    out, skip = setup(folder)
    assert skip == "" and (folder / "bwrap").exists() and f"BROWSER={folder}/chromium" in out


def test_ubuntu_s_chromium_browser_with_passwordless_sudo(tmp_path):
    folder = fake_bin(tmp_path / "bin", uid=1000, sudo=True, apt_gives={"bubblewrap": "bwrap",
                                                                        "chromium-browser": "chromium-browser"})
    out, skip = setup(folder)
    assert skip == "" and f"BROWSER={folder}/chromium-browser" in out


def test_an_installed_google_chrome_is_used_and_nothing_installed(tmp_path):
    folder = fake_bin(tmp_path / "bin", uid=1000, sudo=False, apt_gives=None, have=("bwrap", "google-chrome"))
    out, skip = setup(folder)
    assert skip == "" and f"BROWSER={folder}/google-chrome" in out and "could not" not in out


def test_make_remakes_a_venv_without_pip_and_names_python3_venv_when_it_cannot(tmp_path):
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")  # what a failed `python3 -m venv` leaves
    (venv / "bin" / "python").chmod(0o755)
    no_venv = tmp_path / "python-without-venv"
    no_venv.write_text('#!/bin/sh\necho "ensurepip is not available" >&2\nexit 1\n')
    no_venv.chmod(0o755)
    proc = subprocess.run(["make", "-s", "venv-base", f"PYTHON={no_venv}"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0 and "install python3-venv" in proc.stdout and not venv.exists()
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    (venv / "bin" / "python").chmod(0o755)
    proc = subprocess.run(["make", "-s", "venv-base", f"PYTHON={sys.executable}"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True).returncode == 0


def test_the_workflow_runs_ci_on_every_push_and_pull_request():
    import yaml

    flow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    assert any("bash .ci/run" in s.get("run", "") for s in steps)
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps)


def test_the_environment_imports_nbformat_without_compiling_iri_grammars():
    # rfc3987-syntax, pulled in through jsonschema[format-nongpl], compiles grammars on import: 1-2.5 s
    # for every nbgrader command and test worker. make removes it (the Makefile says why).
    code = "import sys, nbformat, jupyter_events.validators; print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", "rfc3987_syntax is imported with nbformat: run make venv (its recipe uninstalls it)"
    assert "pip uninstall --quiet --yes rfc3987-syntax" in (REPO / "Makefile").read_text()
