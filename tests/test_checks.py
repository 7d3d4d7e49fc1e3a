"""helpers.checks: the messages of the visible tests, and partial credit for independent answers."""
import contextlib
import io

import pytest

from helpers import check_equal, guard
from helpers.checks import Points


def test_each_answer_earns_its_share_and_a_miss_says_why_on_stdout():
    points = Points(3)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert points.award(1, lambda: check_equal(2, 2, "q_a"))
        assert not points.award(1.5, lambda: check_equal(8000, 8080, "q_b", {8000: "The biases are missing."}))
        assert not points.award(0.5, lambda: undefined_name)  # noqa: F821  (a student who never defined it)
        assert points.total() == 1.0
    assert "The biases are missing." in out.getvalue() and "1.5 of 3 points lost" in out.getvalue()
    assert "undefined_name" in out.getvalue() and err.getvalue() == ""  # stderr would cost the whole cell


def test_shares_that_do_not_add_up_are_the_authors_mistake():
    points = Points(2)
    points.award(1, lambda: None)
    with pytest.raises(ValueError, match="add up to 1 points, the cell has 2"):
        points.total()


def test_the_grading_guard_undoes_a_patched_points_class():
    guard.snapshot()
    original = Points.total
    Points.total = lambda self: self.out_of
    try:
        assert "helpers.checks.Points.total" in " ".join(guard.restore({}))
        assert Points.total is original
    finally:
        Points.total = original


GUARDED_LATER = r'''
import sys, types
from helpers import guard
assert "scipy.signal" not in sys.modules
guard.snapshot(watch_imports=True)
assert "scipy.signal" not in sys.modules, "the guard imports no module that nothing uses"
# a fake planted in sys.modules, and the watcher pushed to the back, before anything imported it
sys.modules["scipy.signal"] = types.SimpleNamespace(convolve2d=lambda *a, **k: "fake")
sys.meta_path.remove(guard._watcher)
sys.meta_path.append(guard._watcher)
changed = guard.restore({})
assert "sys.modules['scipy.signal']" in changed and "sys.meta_path" in changed, changed
assert "scipy.signal" not in sys.modules and sys.meta_path[0] is guard._watcher
# imported later by the submission and patched on its next line
import scipy.signal
real = scipy.signal.convolve2d
assert not isinstance(scipy.signal, types.SimpleNamespace)
scipy.signal.convolve2d = lambda *a, **k: "patched right after the import"
changed = guard.restore({})
assert scipy.signal.convolve2d is real and "scipy.signal.convolve2d" in changed, changed
import inspect   # the module's loader still answers what loaders are asked
assert "def convolve2d" in inspect.getsource(scipy.signal._signaltools) and scipy.signal.__spec__.loader.is_package("scipy.signal")
print("ok")
'''


def test_the_guard_records_a_module_imported_after_the_setup_cell_before_it_can_be_patched():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", GUARDED_LATER], capture_output=True, text=True)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
