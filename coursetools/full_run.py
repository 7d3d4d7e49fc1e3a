"""`make full`: run source notebooks top to bottom in full mode, as a student would, and report.

Usage: python -m coursetools.full_run [NN_name ...]   (default: every assignment)

Each notebook runs in a real kernel with no cell timeout, in a scratch copy of its folder, on
the full datasets (``COURSE_DATA_PATH`` or the download cache), on CPU unless a GPU is present.
Trained models go to ``models/NN_name/`` (the reference models grading uses; never copied into
``source/`` or ``release/``). Each threshold a cell records with ``helpers.report.measured`` is
kept with the value reached. The results of the notebooks run are merged into
``docs/full-mode.json`` and ``docs/full-mode.md`` is rendered from it; each entry carries a hash
of its source notebook, which a unit test compares, so a notebook changed since its last full
run is noticed. Exits non-zero when a cell fails or a target is missed.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .execute import execute, first_line, student_env
from .roundtrip import assignments, repo_root

SLOW_CELL_S = 5.0       # a line is printed for each cell that takes longer
SLOWEST_SHOWN = 5       # cells listed per notebook in the report
REPORT_JSON = Path("docs/full-mode.json")
REPORT_MD = Path("docs/full-mode.md")
EXECUTED = Path("test-output/full-mode")   # the executed notebooks, to read every printed number (git-ignored)
MODELS = Path("models")
RERUN = "python -m coursetools.full_run"
# Full-mode wall time each notebook should stay under on a 2-core laptop CPU (minutes).
TIME_TARGET_MIN = {"05_mnist_depth_width": 15, "06_mnist_experiments": 15}
DEFAULT_TIME_TARGET_MIN, TOTAL_TIME_TARGET_MIN = 10, 75


def notebook_path(root: Path, name: str) -> Path:
    return next((root / "source" / name).glob("*.ipynb"))


def notebook_hash(path: Path) -> str:
    """A hash of what a notebook runs: the source of its code cells, in order. Prose (the header's
    times, reference answers quoting this run) may change without a new run. The canonical setup
    cell counts as one placeholder: like ``helpers``, it is the course's, the same in every notebook
    and tested on its own (tests/test_setup_cell.py), so a change to its Colab branch or its pinned
    version does not call for nine full runs. A notebook whose setup cell differs is hashed as it is."""
    from .setup_cell import SETUP_CELL, unpinned

    nb = nbformat.read(path, as_version=4)
    cells = ["<canonical setup cell>" if unpinned(c.source) == SETUP_CELL else c.source
             for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()[:16]


def machine() -> str:
    """The machine in words: CPU model, cores, device and torch version."""
    import torch

    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    device = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU (CPU only)"
    return f"{os.cpu_count()} cores ({model}), {device}, torch {torch.__version__}"


def unique_names(records: list[dict]) -> list[dict]:
    """The same name recorded twice (a cell run in a loop) becomes "name", "name (2)", ..."""
    seen: dict[str, int] = {}
    for r in records:
        seen[r["name"]] = seen.get(r["name"], 0) + 1
        if seen[r["name"]] > 1:
            r["name"] = f"{r['name']} ({seen[r['name']]})"
    return records


def run_notebook(root: Path, name: str, say, fast: bool = False) -> dict:
    """Execute one source notebook in full mode (or fast mode); return its entry for the report.

    Full mode keeps the models it trains in ``models/NN_name/``; fast mode keeps none.
    """
    path = notebook_path(root, name)
    nb = nbformat.read(path, as_version=4)
    cells: list[dict] = []
    entry = {"notebook": str(path.relative_to(root)), "hash": notebook_hash(path), "machine": machine(),
             "date": datetime.date.today().isoformat(), "error": None}

    def on_cell(index: int, source: str, seconds: float) -> None:
        cells.append({"index": index, "seconds": round(seconds, 1), "line": first_line(source)})
        if seconds > SLOW_CELL_S:
            say(f"  {name} cell {index}: {seconds:.0f} s  {first_line(source)}")

    with tempfile.TemporaryDirectory(prefix=f"full-{name}-") as tmp:
        scratch = Path(tmp) / name
        shutil.copytree(path.parent, scratch)
        artifacts = Path(tmp) / "artifacts" if fast else root / MODELS / name
        shutil.rmtree(artifacts, ignore_errors=True)
        measure = Path(tmp) / "measured.jsonl"
        start = time.perf_counter()
        entry["error"] = execute(nb, scratch, student_env(artifacts, fast, measure), on_cell)
        entry["seconds"] = round(time.perf_counter() - start, 1)
        (root / EXECUTED).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, root / EXECUTED / (path.stem + (".fast" if fast else "") + path.suffix))
        entry["measured"] = unique_names([json.loads(line) for line in measure.read_text().splitlines()]
                                         if measure.exists() else [])
        entry["slowest"] = sorted(cells, key=lambda c: -c["seconds"])[:SLOWEST_SHOWN]
        entry["models_mb"] = 0.0 if fast or not artifacts.exists() else \
            round(sum(f.stat().st_size for f in artifacts.rglob("*") if f.is_file()) / 2**20, 2)
    return entry


def fresh_models(root: Path, name: str) -> Path | None:
    """``models/NN_name/`` when the full-mode run recorded in the report is of this notebook's
    current code and ran without error; None otherwise (no run, an old one, or an error)."""
    entry = load(root).get(name)
    folder = root / MODELS / name
    if not entry or entry.get("error") or not folder.is_dir() or not any(folder.iterdir()):
        return None
    return folder if entry["hash"] == notebook_hash(notebook_path(root, name)) else None


# ----------------------------------------------------------------------------- verdicts

def shortfall(m: dict) -> str | None:
    """Why a measured value misses its threshold (with the margin it must keep), or None."""
    need = m.get("margin") or 0.0
    if m.get("at_least") is not None and m["value"] < m["at_least"] + need - 1e-12:
        return f"{m['value']:.4g} < {m['at_least']:.4g} + margin {need:g}"
    if m.get("at_most") is not None and m["value"] > m["at_most"] - need + 1e-12:
        return f"{m['value']:.4g} > {m['at_most']:.4g} - margin {need:g}"
    return None


def fast_misses(entry: dict) -> list[str]:
    """The measurements whose fast-mode value (the entry's fast run) misses the full-mode
    threshold: what a student handing in fast-mode models must lose at grading."""
    full = {m["name"]: m for m in entry.get("measured", [])}
    out = []
    for m in (entry.get("fast") or {}).get("measured", []):
        f = full.get(m["name"])
        if f and ((f["at_least"] is not None and m["value"] < f["at_least"])
                  or (f["at_most"] is not None and m["value"] > f["at_most"])):
            out.append(m["name"])
    return out


def problems(entries: dict[str, dict]) -> list[str]:
    """Errors and missed targets, in full mode and (where recorded) in fast mode."""
    out = []
    for name, full in entries.items():
        for mode, e in (("", full), (" (fast mode)", full.get("fast") or {})):
            if e.get("error"):
                out.append(f"{name}{mode}: {e['error']}")
            out += [f"{name}{mode}: {m['name']}: {why}" for m in e.get("measured", []) if (why := shortfall(m))]
    return out


def stale(root: Path, entries: dict[str, dict]) -> list[str]:
    """Assignments whose source notebook changed since their last full run, or never ran."""
    out = []
    for name in assignments(root):
        e = entries.get(name)
        if e is None:
            out.append(f"{name}: no full-mode run recorded")
        elif e["hash"] != notebook_hash(notebook_path(root, name)):
            out.append(f"{name}: the notebook changed since its full-mode run of {e['date']}")
        elif e.get("fast") and e["fast"]["hash"] != e["hash"]:
            out.append(f"{name}: its fast-mode run is of another version of the notebook (rerun with --fast)")
    return out


# ----------------------------------------------------------------------------- report

def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _number(m: dict) -> str:
    v = m["value"]
    text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return text + (f" {m['unit']}" if m.get("unit") else "")


def _graded(m: dict) -> bool:
    return m.get("at_least") is not None or m.get("at_most") is not None


def _verdict(m: dict | None) -> str:
    """Four table cells: reached, target, margin (and the margin needed), verdict."""
    if m is None:
        return "- | - | - | -"
    target = m["at_least"] if m.get("at_least") is not None else m["at_most"]
    sign = ">=" if m.get("at_least") is not None else "<="
    gap = (m["value"] - target) * (1 if sign == ">=" else -1)
    why = shortfall(m)
    return (f"{_number(m)} | {sign} {target:.4g} | {gap:+.4g} (needs {m.get('margin') or 0:g}) | "
            + ("MISSED: " + why if why else "met"))


def render(entries: dict[str, dict]) -> str:
    """The Markdown report, from the JSON entries (the same entries give the same text)."""
    total = sum(e.get("seconds", 0) for e in entries.values())
    lines = ["# Full mode on the real datasets", "",
             f"Generated by `{RERUN}` (`make full`) from `{REPORT_JSON}`; do not edit by hand. Each "
             "notebook ran top to bottom in full mode in a fresh kernel, with no cell timeout, on the full "
             "datasets. A unit test compares each notebook's hash with its source: rerun the command for a "
             "notebook you change.", "",
             "| notebook | result | wall time | time target | machine | date | hash |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in entries.items():
        result = f"**error**: {e['error']}" if e.get("error") else "ran without error"
        limit = TIME_TARGET_MIN.get(name, DEFAULT_TIME_TARGET_MIN)
        within = "met" if e["seconds"] <= 60 * limit else "**over**"
        lines.append(f"| `{name}` | {result} | {_minutes(e['seconds'])} | under {limit} min: {within} "
                     f"| {e['machine']} | {e['date']} | `{e['hash']}` |")
    within = "met" if total <= 60 * TOTAL_TIME_TARGET_MIN else "**over**"
    lines += ["", f"All {len(entries)} notebooks together: {_minutes(total)} (target for all nine: under "
              f"{TOTAL_TIME_TARGET_MIN} min: {within}).", ""]
    for name, e in entries.items():
        lines += [f"## {name}", "", f"Wall time {_minutes(e['seconds'])} ({e['seconds']:.0f} s)"
                  + (f"; reference models in `{MODELS}/{name}/`: {e['models_mb']} MB" if e.get("models_mb") else "")
                  + ".", "", "Slowest cells: " + "; ".join(f"cell {c['index']} {c['seconds']:.0f} s (`{c['line']}`)"
                                                         for c in e.get("slowest", [])) + ".", ""]
        fast = e.get("fast") or {}
        if fast:
            lines += [f"Fast mode (what CI and grading run): {'**error**: ' + fast['error'] if fast.get('error') else 'ran without error'}"
                      f" in {_minutes(fast['seconds'])}.", ""]
        graded = [m for m in e.get("measured", []) if _graded(m)]
        fast_graded = {m["name"]: m for m in fast.get("measured", []) if _graded(m)}
        if graded or fast_graded:
            lines += ["| threshold | full mode: reached | target | margin | verdict | fast mode: reached | target | margin | verdict |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
            names = [m["name"] for m in graded] + [n for n in fast_graded if n not in {m["name"] for m in graded}]
            full_graded = {m["name"]: m for m in graded}
            for n in names:
                lines.append(f"| {n} | {_verdict(full_graded.get(n))} | {_verdict(fast_graded.get(n))} |")
            lines.append("")
        quoted = [m for m in e.get("measured", []) if not _graded(m)]
        if quoted:
            lines += ["Numbers the written answers quote: " + "; ".join(f"{m['name']} {_number(m)}" for m in quoted) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def load(root: Path) -> dict[str, dict]:
    path = root / REPORT_JSON
    return json.loads(path.read_text()) if path.exists() else {}


def save(root: Path, entries: dict[str, dict]) -> None:
    ordered = {n: entries[n] for n in assignments(root) if n in entries}
    (root / REPORT_JSON).parent.mkdir(parents=True, exist_ok=True)
    (root / REPORT_JSON).write_text(json.dumps(ordered, indent=1) + "\n")
    (root / REPORT_MD).write_text(render(ordered))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignments (default: all); a prefix like 05 is enough")
    parser.add_argument("--fast", action="store_true",
                        help="run in fast mode instead (minutes) and record its margins beside the full run's")
    args = parser.parse_args(argv)
    root = repo_root()
    every = assignments(root)
    names = [next((a for a in every if a == n or a.startswith(n)), n) for n in args.names] or every
    unknown = [n for n in names if n not in every]
    if unknown:
        print(f"unknown assignment(s): {', '.join(unknown)}; choose from {', '.join(every)}")
        return 2
    from tqdm import tqdm

    entries = load(root)
    missing = [n for n in names if args.fast and n not in entries]
    if missing:
        print(f"run full mode first for: {', '.join(missing)} (fast-mode results are kept beside a full run's)")
        return 2
    bar = tqdm(names, desc="fast mode" if args.fast else "full mode", unit="notebook", file=sys.stderr)
    for name in bar:
        bar.set_postfix_str(name)
        e = run_notebook(root, name, bar.write, fast=args.fast)
        if args.fast:
            entries[name]["fast"] = {k: e[k] for k in ("hash", "date", "error", "seconds", "measured")}
        else:
            e["fast"] = None   # a new full run: the fast-mode results belong to the old notebook
            entries[name] = e
        bar.write(f"{name}: {'ERROR ' + e['error'] if e['error'] else 'ok'} in {_minutes(e['seconds'])}")
        save(root, entries)   # after each notebook, so an interrupted run keeps what it measured
    bar.close()
    found = [p for p in problems({n: entries[n] for n in names}) if ("(fast mode)" in p) == args.fast]
    print(f"report: {REPORT_MD} ({len(names)} notebook(s) run)")
    for p in found:
        print("PROBLEM " + p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
