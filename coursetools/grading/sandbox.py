"""The bubblewrap sandbox a grading kernel runs in (Linux; the Debian/Ubuntu package ``bubblewrap``).

Inside the sandbox a submission's code sees:

* read-write: its own folder (the kernel's working directory) and a private, empty ``/tmp``;
* read-only: the system (``/usr``, ``/etc``), the Python environment that grades, the dataset
  folders, and the course's ``helpers`` package exactly as the grader imports it (mounted at
  ``/course/helpers``, first on the kernel's ``sys.path``);
* nothing else: no other file of the course (sources, releases, the gradebook, the nbgrader
  configuration, other students' folders), no home folder, no network (a network namespace of
  its own), no processes outside (a PID namespace of its own);
* limits on memory, processes, size of each file written, set with ``setrlimit`` before
  the kernel starts; a grader running as root runs the kernel as an unprivileged user.

The kernel talks to nbgrader over IPC sockets in a folder shared only with the grader.
:func:`command` builds the ``bwrap`` command line; :func:`problem` says why no sandbox can start.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = ("Install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
                "bubblewrap`); it needs Linux with user namespaces, or a grader running as root.")
OPT_OUT = "c.SandboxedKernelManager.unsafe_no_sandbox = True"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one grading kernel (nbgrader_config.py: ``c.SandboxedKernelManager.<name>``)."""

    memory_mb: int = 4096        # data of each process: heap and arrays (RLIMIT_DATA; not RLIMIT_AS,
                                 # which torch's mapped libraries and CUDA's address space exceed)
    processes: int = 256         # processes and threads the kernel may add (RLIMIT_NPROC)
    file_size_mb: int = 256      # largest file it may write (RLIMIT_FSIZE)
    open_files: int = 1024       # RLIMIT_NOFILE


# Runs inside the sandbox in place of `python -m ipykernel_launcher`: limits first, then the kernel.
# Arguments: data bytes, process limit, file bytes, open files, the folder of the course's packages
# (first on sys.path; "" for none), then the kernel's own arguments.
LAUNCHER = """\
import os, resource, sys
memory, processes, fsize, nofile = (int(v) for v in sys.argv[1:5])
if sys.argv[5]:
    sys.path.insert(0, sys.argv[5])
for which, value in ((resource.RLIMIT_DATA, memory), (resource.RLIMIT_NPROC, processes),
                     (resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(which, (value, value))
sys.argv = ["ipykernel_launcher", *sys.argv[6:]]
os.environ["JPY_PARENT_PID"] = "1"  # the grader is outside this PID namespace: no parent to poll
from ipykernel import kernelapp
kernelapp.launch_new_instance()
# Stopped (every cell has run and replied): exit at once. Tearing down an interpreter that has
# imported torch takes about 0.5 s per graded notebook, and nothing it would do matters to grading.
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
"""


def bwrap() -> str | None:
    return shutil.which("bwrap")


def _python_dirs() -> list[Path]:
    """Folders the grading Python needs to run: its installation, the environment, site-packages."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            str(Path(sys.executable).resolve().parent.parent)}
    dirs |= {p for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_paths().get(k))}
    return _outermost(Path(d) for d in dirs if d and Path(d).exists())


def _outermost(paths) -> list[Path]:
    """``paths`` without those inside another one of them (binding the outer one is enough)."""
    paths = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    out: list[Path] = []
    for p in paths:
        if not any(p == q or q in p.parents for q in out):
            out.append(p)
    return out


PACKAGES = Path("/course")  # inside the sandbox: the course's packages, first on sys.path
COURSE_PACKAGES = ("helpers",)


def course_package_dirs() -> dict[str, Path]:
    """{name: folder} of the course's packages as the grader imports them (never the submission's)."""
    import importlib.util
    out = {}
    for name in COURSE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            out[name] = Path(list(spec.submodule_search_locations)[0]).resolve()
    return out


def data_dirs(env: dict[str, str]) -> list[Path]:
    """Dataset folders the kernel may read: ``COURSE_DATA_PATH`` and the download cache."""
    paths = [Path(p).expanduser() for p in env.get("COURSE_DATA_PATH", "").split(os.pathsep) if p]
    paths.append(Path(env.get("COURSE_DATA_DIR") or Path.home() / ".cache" / "cnn-course-data").expanduser())
    return [p for p in paths if p.is_dir()]


def command(kernel_args: list[str], *, workdir: Path, runtime: Path, scratch: Path, limits: Limits,
            readonly: list[Path] = (), hidden_files: list[Path] = (), uid: int | None = None,
            process_base: int = 0) -> list[str]:
    """The full command line that starts a kernel with ``kernel_args`` (e.g. ``-f conn.json``) in the sandbox.

    ``workdir`` is the submission's folder (read-write, the working directory), ``runtime`` holds
    the connection file and IPC sockets (read-write), ``scratch`` becomes ``/tmp``. Files in
    ``hidden_files`` (inside ``workdir``) read as empty. ``uid``: run the kernel as this user (the
    grader must be root). ``process_base``: tasks the kernel's user already runs, added to the limit.
    """
    exe = bwrap()
    if exe is None:
        raise RuntimeError(f"bubblewrap (bwrap) not found. {INSTALL_HINT}")
    args = [exe, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "grader"]
    if uid is None:
        args.insert(1, "--unshare-user")  # unprivileged bubblewrap needs a user namespace
    args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--ro-bind-try", "/var/cache/fontconfig",
             "/var/cache/fontconfig"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    args += ["--proc", "/proc", "--dev", "/dev", "--bind", str(scratch), "/tmp"]
    ro = [p for p in _outermost([*_python_dirs(), *readonly]) if not str(p).startswith(("/usr/", "/etc/"))]
    rw = [Path(runtime).resolve(), Path(workdir).resolve()]
    # bwrap creates the folders above a mount point with the grader's umask: make them traversable
    above = {a for p in (*ro, *rw) for a in p.parents if a != Path("/")} - {Path("/tmp"), *ro, *rw}
    for folder in sorted(above, key=lambda p: len(p.parts)):
        if not any(folder == r or r in folder.parents for r in ro):
            args += ["--perms", "0755", "--dir", str(folder)]
    for path in ro:
        args += ["--ro-bind", str(path), str(path)]
    for path in rw:
        args += ["--bind", str(path), str(path)]
    packages = course_package_dirs()
    if packages:
        args += ["--perms", "0755", "--dir", str(PACKAGES)]
    for name, path in packages.items():
        args += ["--ro-bind", str(path), str(PACKAGES / name)]
    if hidden_files:
        empty = Path(runtime) / "empty"
        empty.write_bytes(b"")
        for f in hidden_files:
            args += ["--ro-bind", str(empty), str(f)]
    args += ["--chdir", str(workdir)]
    if uid is not None:  # as root: keep only what setpriv needs to switch user, which then drops it
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args.append("--")
    if uid is not None:
        args += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}",
                 "--clear-groups", "--inh-caps=-all"]
    return args + launcher(kernel_args, limits, process_base, PACKAGES if packages else None)


def launcher(kernel_args: list[str], limits: Limits, process_base: int = 0, packages: Path | None = None) -> list[str]:
    """The kernel's own command: isolated Python (nothing imported from its folder), limits, ipykernel."""
    return [sys.executable, "-I", "-c", LAUNCHER, str(limits.memory_mb << 20), str(limits.processes + process_base),
            str(limits.file_size_mb << 20), str(limits.open_files), str(packages or ""), *kernel_args]


def tasks_of(uid: int) -> int:
    """How many tasks (processes and threads) ``uid`` runs now: what RLIMIT_NPROC counts."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


@functools.lru_cache(maxsize=None)
def problem(uid: int | None = None) -> str | None:
    """None if a sandbox starts here; otherwise what is wrong and what to install."""
    if not sys.platform.startswith("linux"):
        return f"the grading sandbox needs Linux (this is {sys.platform}). {INSTALL_HINT}"
    if bwrap() is None:
        return f"bubblewrap (bwrap) is not installed. {INSTALL_HINT}"
    import tempfile
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
        tmp = Path(tmp)
        for sub in ("work", "run", "tmp"):
            (tmp / sub).mkdir()
            if uid is not None:
                os.chown(tmp / sub, uid, uid)
        cmd = command([], workdir=tmp / "work", runtime=tmp / "run", scratch=tmp / "tmp", limits=Limits(), uid=uid)
        (tmp / "outside").write_text("the sandbox must not see this file")
        probe = "import os, sys; sys.exit(3 if os.path.exists(%r) else 0)" % str(tmp / "outside")
        cmd = cmd[:cmd.index(LAUNCHER)] + [probe]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap could not start a sandbox: {err}. {INSTALL_HINT}"
    if proc.returncode == 3:
        return "the sandbox started but a file outside it was visible inside it"
    if proc.returncode != 0:
        return (f"bubblewrap could not start a sandbox (exit {proc.returncode}: {proc.stderr.strip()[:300]}). "
                f"{INSTALL_HINT}")
    return None
