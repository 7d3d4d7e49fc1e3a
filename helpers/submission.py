"""One file to hand in: the saved notebook and its ``artifacts/`` in one zip.

Assignments that save models end with ``helpers.submission_zip("NN_name")``. The zip,
``NN_name_submission.zip`` next to the notebook, holds the notebook as last saved and every file
under ``artifacts/``; upload it to the LMS as it is (``coursetools.grade_folder`` unpacks it).
In Colab the notebook is not on the kernel's disk: it is fetched through Colab's own API where
that works (otherwise the message says to download it with File > Download > Download .ipynb and
upload it beside the zip), and the zip is offered as a download.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from .artifacts import artifact_path
from .config import grading


def _in_colab() -> bool:
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def _colab_notebook() -> dict | None:
    """The open notebook as Colab holds it (its unofficial but long-standing ``get_ipynb`` request), or None."""
    try:
        from google.colab import _message

        reply = _message.blocking_request("get_ipynb", timeout_sec=30)
        return reply["ipynb"] if reply and "ipynb" in reply else None
    except Exception:  # an older or newer Colab, or no frontend: the student downloads it by hand
        return None


def _saved_notebook(assignment: str) -> Path | None:
    """The notebook file this kernel runs, as far as it can tell."""
    session = os.environ.get("JPY_SESSION_NAME")  # Jupyter Server names the notebook of each kernel
    if session and session.endswith(".ipynb") and Path(session).is_file():
        return Path(session)
    here = [p for p in Path.cwd().glob("*.ipynb") if not p.name.startswith(".")]
    if len(here) == 1:
        return here[0]
    named = [p for p in here if assignment.split("_", 1)[-1] in p.stem]
    return named[0] if len(named) == 1 else None


def submission_zip(assignment: str, notebook: str | Path | None = None) -> Path | None:
    """Pack the saved notebook and ``artifacts/`` into ``<assignment>_submission.zip``; return its path.

    ``notebook`` names the notebook file when it cannot be found (several notebooks in the folder).
    While grading it does nothing.
    """
    if grading():
        print("grading: no submission zip is made")
        return None
    colab = _in_colab()
    target = Path(f"{assignment}_submission.zip")
    nb_path = Path(notebook) if notebook else None
    nb_json = None
    if nb_path is None and colab:
        nb_json = _colab_notebook()
    if nb_path is None and nb_json is None:
        nb_path = _saved_notebook(assignment)
    problems = []
    if nb_json is None and (nb_path is None or not nb_path.is_file()):
        where = ("In Colab: File > Download > Download .ipynb, and upload that file beside this zip."
                 if colab else "Pass its name: helpers.submission_zip(\"%s\", \"my_notebook.ipynb\")." % assignment)
        problems.append(f"the notebook itself is NOT in the zip: it could not be found. {where}")
    models = artifact_path("")
    files = sorted(p for p in models.rglob("*") if p.is_file()) if models.is_dir() else []
    if not files:
        problems.append(f"no saved models under {models}/: run the training cells first")
    if nb_path is not None and nb_path.is_file() and files:
        newest = max(p.stat().st_mtime for p in files)
        if nb_path.stat().st_mtime < newest:
            problems.append(f"{nb_path.name} was last saved before the newest model: save it (Ctrl+S / Cmd+S) "
                            "and run this cell again, or your answers since then are missing")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        if nb_json is not None:
            z.writestr(f"{assignment.split('_', 1)[-1]}.ipynb", json.dumps(nb_json, indent=1))
        elif nb_path is not None and nb_path.is_file():
            z.write(nb_path, nb_path.name)
        for p in files:
            z.write(p, (Path("artifacts") / p.relative_to(models)).as_posix())
    with zipfile.ZipFile(target) as z:
        listing = z.infolist()
    print(f"{target}: {len(listing)} file(s), {target.stat().st_size / 1e6:.1f} MB")
    for info in listing:
        print(f"  {info.filename}  ({info.file_size / 1e6:.2f} MB)")
    for p in problems:
        print("WARNING:", p)
    if colab:
        from google.colab import files as colab_files

        colab_files.download(str(target))
    else:
        print(f"Hand in {target.resolve()} (one file: your LMS takes it as it is).")
    return target.resolve()
