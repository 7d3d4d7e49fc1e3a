"""Autograding's kernels: each submission runs in the sandbox of :mod:`.sandbox`, with the grading environment.

``nbgrader_config.py`` puts :class:`SandboxedExecute` in place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors``; every way of autograding (the CLI, the formgrader's
button, ``coursetools.grade_folder``, the round trip) goes through it. ``nbgrader validate``
keeps nbgrader's own ``Execute``: a student checking their own notebook needs no sandbox.

Settings, all in ``nbgrader_config.py`` (defaults in :class:`.sandbox.Limits`)::

    c.SandboxedKernelManager.memory_mb = 4096
    c.SandboxedKernelManager.processes = 256
    c.SandboxedKernelManager.file_size_mb = 256
    c.SandboxedKernelManager.user = 65534          # who the kernel runs as when grading as root
    c.SandboxedKernelManager.readonly_paths = []   # more folders the kernel may read
    c.SandboxedExecute.max_output_mb = 8          # output kept per notebook
    c.SandboxedKernelManager.unsafe_no_sandbox = True  # UNSAFE: grade without a sandbox
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, List, Unicode, default

from . import kernel_environment, sandbox


class SandboxUnavailable(RuntimeError):
    """No sandbox can start on this machine, and the instructor has not opted out."""


def refusal(reason: str) -> str:
    return (f"Autograding refused: {reason}\nNo student code was run. Submissions are graded in a sandbox so "
            f"that they cannot read the solutions, change grades or reach the network. To grade without "
            f"one anyway (UNSAFE: student code then runs as you, with your files), set "
            f"`{sandbox.OPT_OUT}` in nbgrader_config.py.")


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start inside bubblewrap, over IPC sockets, with the grading environment."""

    memory_mb = Integer(sandbox.Limits.memory_mb, help="Memory (data) limit of each kernel process, MiB").tag(config=True)
    processes = Integer(sandbox.Limits.processes, help="Processes and threads a kernel may add").tag(config=True)
    file_size_mb = Integer(sandbox.Limits.file_size_mb, help="Largest file a kernel may write, MiB").tag(config=True)
    open_files = Integer(sandbox.Limits.open_files, help="Open files per kernel process").tag(config=True)
    user = Integer(65534, help="User id the kernel runs as when the grader runs as root").tag(config=True)
    readonly_paths = List(Unicode(), help="More folders the kernel may read").tag(config=True)
    unsafe_no_sandbox = Bool(False, help="UNSAFE: run student code without a sandbox, as the grader").tag(config=True)

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(self.memory_mb, self.processes, self.file_size_mb, self.open_files)

    def kernel_uid(self) -> int | None:
        """The user the kernel runs as: ``user`` when the grader is root, else the grader itself (None)."""
        return self.user if os.geteuid() == 0 else None

    def check(self) -> None:
        """Raise :class:`SandboxUnavailable` unless a sandbox can start (or the instructor opted out)."""
        if not self.unsafe_no_sandbox and (reason := sandbox.problem(self.kernel_uid())):
            raise SandboxUnavailable(refusal(reason))

    async def _async_pre_start_kernel(self, **kw):
        self.check()
        uid = self.kernel_uid()
        self._runtime = Path(tempfile.mkdtemp(prefix="grading-kernel-"))
        self.connection_file = str(self._runtime / "kernel.json")
        self.ip = str(self._runtime / "ipc")
        env = kernel_environment(kw.get("env") or os.environ)
        env.setdefault("COURSE_DATA_DIR", str(Path.home() / ".cache" / "cnn-course-data"))
        kw["env"] = env
        # bwrap does not pass signals on: interrupt (a cell past its timeout) by a message to the kernel
        self.kernel_spec.interrupt_mode = "message"
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if "ipykernel_launcher" not in cmd:
            raise SandboxUnavailable(refusal(f"the sandbox runs Python kernels only, not {cmd[:3]}"))
        kernel_args = cmd[cmd.index("ipykernel_launcher") + 1:]
        if self.unsafe_no_sandbox:  # still the limits, and nothing imported from the submission's folder
            self.log.warning("UNSAFE: grading without a sandbox (SandboxedKernelManager.unsafe_no_sandbox)")
            return sandbox.launcher(kernel_args, self.limits(), sandbox.tasks_of(os.getuid())), kw
        workdir = Path(kw.get("cwd") or os.getcwd()).resolve()
        scratch = self._runtime / "tmp"
        scratch.mkdir()
        _seed_font_cache(scratch)
        self._workdir, self._owners = workdir, {}
        if uid is not None:
            self._owners = _give(workdir, uid)
            for p in (self._runtime, scratch, Path(self.connection_file), *scratch.rglob("*")):
                os.chown(p, uid, uid)
        readonly = [*sandbox.data_dirs(env), *map(Path, self.readonly_paths)]
        # nbgrader's copy of the notebook beside the kernel holds the hidden tests: it reads as empty
        hidden = [p for p in workdir.glob("*.ipynb") if p.is_file() and not p.is_symlink()]
        cmd = sandbox.command(kernel_args, workdir=workdir, runtime=self._runtime, scratch=scratch,
                              limits=self.limits(), readonly=readonly, hidden_files=hidden, uid=uid,
                              process_base=sandbox.tasks_of(os.getuid() if uid is None else uid))
        return cmd, kw

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if restart:
            return
        workdir = getattr(self, "_workdir", None)
        if workdir is not None:
            _take_back(workdir, self._owners)
            self._workdir = None
        runtime = getattr(self, "_runtime", None)
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)
            self._runtime = None


def _seed_font_cache(scratch: Path) -> None:
    """Copy matplotlib's font list into the sandbox's /tmp, so each kernel does not rebuild it."""
    source = Path(os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                  / "matplotlib")
    target = scratch / "matplotlib"
    target.mkdir()
    for f in source.glob("fontlist-*.json"):
        shutil.copy2(f, target / f.name)


def _give(folder: Path, uid: int) -> dict[Path, tuple[int, int]]:
    """Make ``folder`` the kernel user's; return the owners to put back afterwards."""
    owners = {}
    for p in [folder, *folder.rglob("*")]:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            p.unlink()  # a link into the course, planted before grading: never followed
            continue
        owners[p] = (st.st_uid, st.st_gid)
        os.chown(p, uid, uid)
    return owners


def _take_back(folder: Path, owners: dict[Path, tuple[int, int]]) -> None:
    """After the kernel: remove every link or special file it left, give files back to the grader's owner.

    nbgrader then writes the graded notebook into this folder as the grader; a link left here
    (to nbgrader_config.py, say) would otherwise be followed.
    """
    if not folder.is_dir() or folder.is_symlink():
        return
    base = owners.get(folder, (os.getuid(), os.getgid()))
    for p in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)):
        try:
            st = p.lstat()
        except OSError:
            continue
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            p.unlink()
            continue
        if owners or st.st_uid != base[0]:
            os.chown(p, *owners.get(p, base), follow_symlinks=False)
    if owners:
        os.chown(folder, *base, follow_symlinks=False)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` with sandboxed kernels and a cap on the output kept per notebook."""

    max_output_mb = Integer(8, help="Output kept per notebook, MiB; the rest is dropped with a note").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        # refuse before any kernel starts, with the reason, rather than fail cell by cell
        self.kernel_manager_class(config=self.config).check()
        self._output_bytes, self._notes = 0, set()
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        """Keep output up to the cap; past it keep errors, and one note per cell and stream.

        Errors and stderr decide scores (nbgrader scores a test cell with either as failed), so
        past the cap a cell still gets its errors and, if it wrote to stderr, a note on stderr.
        """
        self._output_bytes += len(json.dumps(msg.get("content", {}), default=str))
        if self._output_bytes <= self.max_output_mb << 20 or msg.get("msg_type") == "error":
            return super().output(outs, msg, display_id, cell_index)
        stream = msg.get("content", {}).get("name") if msg.get("msg_type") == "stream" else "stdout"
        stream = stream if stream in ("stdout", "stderr") else "stdout"
        if (cell_index, stream) not in self._notes:
            self._notes.add((cell_index, stream))
            outs.append(new_output("stream", name=stream,
                                   text=f"\n[grader: output beyond {self.max_output_mb} MiB was dropped]\n"))
        return None
