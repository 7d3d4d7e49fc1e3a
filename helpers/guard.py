"""While grading, undo a submission's monkeypatching before every cell, so tests use the real tools.

A wrong answer must not pass because the submission replaced what the tests compare with:
``np.allclose = lambda *a, **k: True``, ``helpers.check_close = ...``, ``builtins.abs = ...``,
``torch.Tensor.__eq__ = ...``, or a notebook-level ``check_close`` / ``np`` rebound. The
locked setup cell calls :func:`install` (through ``helpers.setup``) before any student code
runs; it records the trusted modules and classes, and an IPython ``pre_run_cell`` hook puts
every recorded attribute and notebook name back before each later cell.

This raises the bar, it is not a sandbox: code in the same process can always unregister a
hook. It is active only while grading (``helpers.grading()``), so students' own experiments
are never surprised by it.
"""
from __future__ import annotations

import sys
import types

MODULES = ("builtins", "math", "random", "numpy", "numpy.linalg", "numpy.random", "numpy.testing", "scipy.signal",
           "torch", "torch.nn", "torch.nn.functional", "torch.testing", "torch.autograd")
# plus every module of the helpers package, imported before the snapshot (see _helper_modules)
CLASSES = (("torch", "Tensor"), ("torch.nn", "Module"), ("helpers.checks", "Points"))
# notebook names that tests rely on, and what they must be
NOTEBOOK_NAMES = {"np": "numpy", "torch": "torch", "F": "torch.nn.functional", "nn": "torch.nn",
                  "helpers": "helpers", "math": "math"}
CHECKS = {"helpers.checks": ("check_close", "check_equal", "passed"),
          "helpers.gradcheck": ("check_gradient", "rel_error", "numerical_gradient")}

_modules: dict[str, types.ModuleType] = {}
_attrs: dict[str, dict[str, object]] = {}
_class_attrs: dict[tuple[str, str], tuple[type, dict[str, object]]] = {}
_installed = False
_watcher = None


def _helper_modules() -> list[str]:
    """Import every module of the helpers package (the tests may use any of them) and name them."""
    import importlib
    import pkgutil

    import helpers
    names = ["helpers"]
    for info in pkgutil.iter_modules(helpers.__path__):
        if info.name == "guard":  # its own state changes after the snapshot
            continue
        try:
            importlib.import_module(f"helpers.{info.name}")
            names.append(f"helpers.{info.name}")
        except ImportError:  # an optional dependency missing: nothing of it to protect
            pass
    return names


def _record(name: str, module: types.ModuleType) -> None:
    _modules[name] = module
    _attrs[name] = dict(vars(module))


class _RecordOnImport:
    """A ``sys.meta_path`` finder that records a trusted module the moment its import finishes,
    before the importing cell's next line can patch it: a module nobody imported yet
    (``scipy.signal`` outside 01) costs a graded kernel nothing, and is still protected if a
    submission imports it later."""

    def __init__(self, names):
        self.pending = set(names)

    def find_spec(self, name, path=None, target=None):
        if name not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                self.pending.discard(name)
                spec.loader = _Recording(spec.loader, name)
                return spec
        return None


class _Recording:
    """The real loader of a watched module, which records the module once it has run."""

    def __init__(self, loader, name: str):
        self.loader, self.name = loader, name

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _record(self.name, module)

    def __getattr__(self, name):  # get_source, get_resource_reader, is_package...: the real loader's
        return getattr(self.loader, name)


def snapshot(watch_imports: bool = False) -> None:
    """Record the trusted modules, their attributes and the methods of a few classes.

    A trusted module not imported yet is imported now, or, with ``watch_imports``, recorded
    when something first imports it (:class:`_RecordOnImport`).
    """
    global _watcher
    import importlib
    later = []
    for name in (*MODULES, *_helper_modules()):
        if name not in sys.modules:
            if watch_imports:
                later.append(name)
                continue
            try:  # imported now, so that a patch made after the setup cell is undone too
                importlib.import_module(name)
            except ImportError:
                continue
        module = sys.modules.get(name)
        if module is not None:
            _record(name, module)
    for mod_name, cls_name in CLASSES:
        cls = getattr(_modules.get(mod_name), cls_name, None)
        if isinstance(cls, type):
            _class_attrs[(mod_name, cls_name)] = (cls, dict(vars(cls)))
    if _watcher in sys.meta_path:
        sys.meta_path.remove(_watcher)
    _watcher = _RecordOnImport(later) if later else None
    if _watcher:
        sys.meta_path.insert(0, _watcher)


def _rewatch() -> list[str]:
    """Keep the import watcher first on ``sys.meta_path``, and drop a watched module that got into
    ``sys.modules`` without passing it (planted there, or loaded by a finder put in front)."""
    if _watcher is None or not _watcher.pending:
        return []
    changed = []
    if sys.meta_path[:1] != [_watcher]:
        while _watcher in sys.meta_path:
            sys.meta_path.remove(_watcher)
        sys.meta_path.insert(0, _watcher)
        changed.append("sys.meta_path")
    for name in sorted(_watcher.pending & set(sys.modules)):
        del sys.modules[name]
        changed.append(f"sys.modules[{name!r}]")
    return changed


def restore(namespace: dict | None = None) -> list[str]:
    """Put recorded modules, attributes and notebook names back; return what had been changed."""
    changed = _rewatch()
    for name, module in _modules.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            changed.append(f"sys.modules[{name!r}]")
        current = vars(module)
        for key, value in _attrs[name].items():
            if current.get(key, _attrs) is not value:
                try:
                    setattr(module, key, value)
                    changed.append(f"{name}.{key}")
                except (AttributeError, TypeError):
                    pass
    for (mod_name, cls_name), (cls, saved) in _class_attrs.items():
        for key, value in saved.items():
            if vars(cls).get(key, saved) is not value:
                try:
                    setattr(cls, key, value)
                    changed.append(f"{mod_name}.{cls_name}.{key}")
                except (AttributeError, TypeError):
                    pass
        for key in set(vars(cls)) - set(saved):  # a method added to shadow an inherited one
            if not any(hasattr(base, key) for base in cls.__mro__[1:]):
                continue
            try:
                delattr(cls, key)
                changed.append(f"{mod_name}.{cls_name}.{key}")
            except (AttributeError, TypeError):
                pass
    if namespace is not None:
        trusted = {alias: _modules[mod] for alias, mod in NOTEBOOK_NAMES.items() if mod in _modules}
        for mod, names in CHECKS.items():
            trusted.update({name: _attrs[mod][name] for name in names if name in _attrs.get(mod, {})})
        for name, value in trusted.items():
            if name in namespace and namespace[name] is not value:
                namespace[name] = value
                changed.append(name)
    return changed


def install() -> bool:
    """Snapshot now and restore before every later cell of this IPython kernel (once per kernel)."""
    global _installed
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or _installed:
        return _installed
    snapshot(watch_imports=True)
    shell.events.register("pre_run_cell", lambda *_: restore(shell.user_ns))
    _installed = True
    return True


__all__ = ["install", "restore", "snapshot"]
