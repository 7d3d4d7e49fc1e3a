"""Who handed in what: student ids and files from an LMS download (a folder or a zip).

Each LMS names submissions its own way. A student has either files whose names carry the
student (a flat download) or a folder of files (the notebook and its ``artifacts/``):

==========  ====================================================================================
canvas      ``doejane_12345_678901_filters.ipynb``, ``doejane_LATE_12345_678901_filters-1.ipynb``
            (login, LATE, user id, submission id, the file's name; id ``doejane_12345``)
moodle      ``Jane Doe_4711_assignsubmission_file_filters.ipynb``, or the folder
            ``Jane Doe_4711_assignsubmission_file/`` ("download submissions in folders");
            id ``jane_doe_4711``
blackboard  ``Filters_jdoe_attempt_2026-12-01-10-30-00_filters.ipynb`` (the latest attempt of
            each student is graded); id ``jdoe``
plain       a folder per student (``jane/filters.ipynb``), or ``jane.ipynb``, ``jane_filters.ipynb``
==========  ====================================================================================

A custom regular expression (``--pattern``) names the student with a group ``student`` and may
name the file with a group ``file``, like nbgrader's ``FileNameCollectorPlugin.named_regexp``.
By default the first preset that reads every entry of the download is used.

Ids are made gradebook-safe (lower case ASCII, ``_``). An entry whose id cannot be read, two
entries whose ids collide, or a student with two notebooks stop the collection with a list of
the offending files: nothing is renamed or dropped silently. A zip a student hands in (what
``helpers.submission_zip`` makes) is unpacked into that student's files. Files other than the
notebook keep their place below ``artifacts/``; loose ones (a flat download has no folders) go
into ``artifacts/``.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Each preset reads one top-level entry's name (a file, or a student's folder).
PRESETS = {
    "moodle": r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?:file|onlinetext)_?(?P<file>.*)$",
    "canvas": r"^(?P<name>[A-Za-z0-9-]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)$",
    "blackboard": r"^.+_(?P<name>[^_]+)_attempt_(?P<attempt>\d{4}(?:-\d{2}){5})(?:_(?P<file>.+)|\.txt)?$",
}
JUNK = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db"}
MAX_UNZIPPED = 2 << 30  # 2 GiB per zip: a zip bomb stops the collection, not the machine


class CollectionError(SystemExit):
    """The download cannot be filed without guessing; the message lists the files."""


@dataclass
class Submission:
    student: str
    entries: list[str] = field(default_factory=list)     # the download's names this came from
    files: dict[str, Path] = field(default_factory=dict)  # relative path in the submission -> file
    attempt: str = ""


def slug(text: str) -> str:
    """A gradebook-safe id: ASCII lower case, runs of anything else as one ``_``."""
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")


def _copy_noise(stem: str, notebook_stem: str) -> str:
    """``stem`` without what saving adds: "Copy of", " (1)", Canvas's "-1", the notebook's own name."""
    s = slug(stem)
    s = re.sub(r"^(copy_of_)+", "", s)
    s = re.sub(r"(_\d{1,2})$", "", s) if re.search(r"[ (-]\d{1,2}\)?$", stem) else s
    nb = slug(notebook_stem)
    for cut in (rf"(^|_){nb}$", rf"^{nb}(_|$)"):
        s = re.sub(cut, "", s).strip("_")
    return s


def _file_name(name: str) -> str:
    """A file's own name as the student saved it, without Canvas's or Moodle's resubmission suffix."""
    p = PurePosixPath(name)
    return re.sub(r"(?:-\d{1,2}| \(\d{1,2}\))$", "", p.stem) + p.suffix


def read_entry(name: str, preset: str, pattern: str | None,
               notebook_stem: str) -> tuple[str, str | None, str, str] | None:
    """(student id, the file's own name or None for a folder's, attempt, the student's part of the
    name as written) from one entry's name, or None. The last tells two students whose ids collide
    from one student's several files."""
    if preset == "plain":
        stem = Path(name).stem if Path(name).suffix else name
        sid = _copy_noise(stem, notebook_stem) if Path(name).suffix else slug(name)
        return (sid, None, "", name) if sid else None
    m = re.match(pattern or PRESETS[preset], name, re.IGNORECASE)
    if not m:
        return None
    groups = m.groupdict()
    raw = groups.get("student") or "" if pattern else "_".join(v for v in (groups.get("name"), groups.get("id")) if v)
    sid = slug(raw)
    return (sid, groups.get("file") or None, groups.get("attempt") or "", raw) if sid else None


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in JUNK and not p.name.startswith("."))


def detect(folder: Path, notebook_stem: str) -> str:
    """The first preset that reads every entry of ``folder``; "plain" when none does."""
    names = [p.name for p in _entries(folder)]
    for preset in PRESETS:
        if names and all(read_entry(n, preset, None, notebook_stem) for n in names):
            return preset
    return "plain"


def safe_extract(archive: Path, dest: Path) -> None:
    """Unpack a zip, refusing absolute paths, ``..``, links and more than :data:`MAX_UNZIPPED` bytes."""
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        bad = [i.filename for i in infos if i.filename.startswith(("/", "\\")) or ".." in PurePosixPath(i.filename).parts
               or (i.external_attr >> 16) & 0o170000 == 0o120000]
        if bad:
            raise CollectionError(f"{archive.name}: refused to unpack entries outside the folder or links: {bad[:5]}")
        if sum(i.file_size for i in infos) > MAX_UNZIPPED:
            raise CollectionError(f"{archive.name}: more than {MAX_UNZIPPED >> 20} MiB unpacked")
        z.extractall(dest)


def _files_below(path: Path, prefix: str = "") -> dict[str, Path]:
    """Relative path -> file for a file or everything below a folder (junk left out)."""
    if path.is_file():
        return {prefix + path.name: path}
    out = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not p.is_symlink() and not any(part in JUNK for part in rel.parts):
            out[prefix + rel.as_posix()] = p
    return out


def collect_submissions(download: Path, notebook_stem: str, preset: str = "auto", pattern: str | None = None,
                        scratch: Path | None = None) -> dict[str, Submission]:
    """{student id: Submission} for an LMS download (a folder or a .zip)."""
    scratch = Path(scratch or tempfile.mkdtemp(prefix="lms-"))
    if download.is_file() and download.suffix.lower() == ".zip":
        safe_extract(download, scratch / "download")
        download = scratch / "download"
        inner = _entries(download)
        if len(inner) == 1 and inner[0].is_dir() and len(list(inner[0].glob("*.ipynb"))) != 1:
            download = inner[0]  # a zip that holds one folder with the submissions (not one student's folder)
    if not download.is_dir():
        raise CollectionError(f"{download} is neither a folder nor a .zip")
    if pattern:
        preset = "custom"
    elif preset == "auto":
        preset = detect(download, notebook_stem)
    elif preset not in PRESETS and preset != "plain":
        raise CollectionError(f"unknown LMS {preset!r}: one of {', '.join([*PRESETS, 'plain'])}, or --pattern")
    unreadable, subs = [], {}
    owners: dict[str, set[str]] = {}
    for entry in _entries(download):
        read = read_entry(entry.name, preset, pattern, notebook_stem)
        if read is None:
            unreadable.append(entry.name)
            continue
        sid, own_name, attempt, raw = read
        owners.setdefault(sid, set()).add(raw)
        sub = subs.setdefault(sid, Submission(sid))
        if attempt and attempt != sub.attempt:  # Blackboard: keep each student's latest attempt only
            if attempt < sub.attempt:
                continue
            sub.files, sub.entries, sub.attempt = {}, [], attempt
        sub.entries.append(entry.name)
        if preset == "blackboard" and own_name is None and entry.is_file():
            continue  # the attempt's receipt (a .txt), not the student's work
        if entry.is_dir():
            sub.files.update(_files_below(entry))
        else:
            sub.files[_file_name(own_name) if own_name else entry.name] = entry
    if unreadable:
        raise CollectionError(f"no student id could be read ({preset} names) from {len(unreadable)} entr"
                              f"{'y' if len(unreadable) == 1 else 'ies'} of {download}:\n    "
                              + "\n    ".join(unreadable) + "\n  rename them, or name the LMS (--lms) or a --pattern")
    collisions = {sid: sorted(raw) for sid, raw in owners.items() if len(raw) > 1}
    if collisions:
        raise CollectionError("different students would get the same id:\n    " + "\n    ".join(
            f"{sid}: {', '.join(raw)}" for sid, raw in sorted(collisions.items())))
    for sub in subs.values():
        _unpack_zips(sub, scratch / "unzipped" / sub.student)
        _route(sub)
    return subs


def _unpack_zips(sub: Submission, dest: Path) -> None:
    for rel, path in list(sub.files.items()):
        if rel.lower().endswith(".zip"):
            del sub.files[rel]
            target = dest / Path(rel).stem
            safe_extract(path, target)
            inner = _entries(target)
            root = inner[0] if len(inner) == 1 and inner[0].is_dir() and not inner[0].name == "artifacts" else target
            sub.files.update(_files_below(root))


def _route(sub: Submission) -> None:
    """One notebook at the top; every other file below ``artifacts/``."""
    notebooks = [rel for rel in sub.files if rel.endswith(".ipynb")]
    if len(notebooks) != 1:
        listed = ", ".join(sub.entries)
        raise CollectionError(f"{sub.student} handed in {len(notebooks)} notebooks ({', '.join(notebooks) or 'none'}; "
                              f"from {listed}): grade_folder needs exactly one per student")
    routed = {}
    for rel, path in sub.files.items():
        if rel == notebooks[0]:
            routed["notebook"] = path
        else:
            parts = PurePosixPath(rel).parts
            routed[str(PurePosixPath("artifacts", *parts[parts.index("artifacts") + 1:] if "artifacts" in parts
                                     else parts[-1:]))] = path
    sub.files = routed


def file_submission(sub: Submission, dest: Path, notebook_name: str) -> None:
    """Copy a student's files into ``dest`` (``submitted/<id>/<assignment>``), keeping files already there."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, path in sub.files.items():
        target = dest / (notebook_name if rel == "notebook" else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
