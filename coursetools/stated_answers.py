"""Numeric answers that a release states in its prose or code.

A hidden test compares a student's number with an expected value; when that value is written as
a constant (``check_equal(n152_cifar, 58_164_298, ...)``, ``check_close(mb, 58_164_298 * 4 / 1e6, ...)``,
``assert answer == 3``), or when the reference solution assigns a checked name a number worked out
from constants (``q_fc_params = 100 * 80 + 80``, ``q_zip_correct = 0.9985 ** 5``), the release
must not print it anywhere, in any of the forms a person
would write it: ``58,164,298``, ``58.2M``, ``58 million``, ``233`` for 232.66 (MB). The round trip's
leak check calls :func:`stated_answers` on every release notebook.

Only distinctive values are looked for: a value whose every printed form is a short round number
(8, 0.5, 100) would be found in any text, so it is left out. Values computed by code in a hidden
test (from the reference's own function, say) are not constants and are not looked for.
"""
from __future__ import annotations

import ast
import math
import operator
import re
import textwrap
from typing import Iterable

CHECKS = {"check_equal", "check_close"}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}
_MATH = {f: getattr(math, f) for f in ("exp", "expm1", "log", "log1p", "log2", "log10", "sqrt")}


def constant_value(node: ast.AST) -> float | None:
    """The value of a number written with constants and arithmetic only, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        v = constant_value(node.operand)
        return None if v is None else _OPS[type(node.op)](v)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = constant_value(node.left), constant_value(node.right)
        if a is None or b is None or (isinstance(node.op, ast.Pow) and abs(b) > 64):
            return None
        try:
            return _OPS[type(node.op)](a, b)
        except ZeroDivisionError:
            return None
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "math"
            and node.func.attr in _MATH and len(node.args) == 1 and not node.keywords):
        v = constant_value(node.args[0])
        try:
            return None if v is None else _MATH[node.func.attr](v)
        except (ValueError, OverflowError):
            return None
    return None


def _expected_nodes(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in CHECKS:
            yield from node.args[1:2]
            yield from (k.value for k in node.keywords if k.arg in ("expected", "want"))
        elif isinstance(node, ast.Compare) and all(isinstance(op, ast.Eq) for op in node.ops):
            yield from [node.left, *node.comparators]


def _parse(code: str) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None


def _values(nodes: Iterable[ast.AST]) -> set[float]:
    values = set()
    for node in nodes:
        elements = node.elts if isinstance(node, (ast.Tuple, ast.List)) else [node]
        values |= {v for v in map(constant_value, elements) if v is not None and math.isfinite(v)}
    return values


def expected_values(code: str) -> set[float]:
    """Constant expected values of the checks in ``code`` (a hidden-test block)."""
    tree = _parse(code)
    return set() if tree is None else _values(_expected_nodes(tree))


def checked_names(code: str) -> set[str]:
    """Names whose values the checks in ``code`` compare (their first argument)."""
    tree = _parse(code)
    return set() if tree is None else {
        n.args[0].id for n in ast.walk(tree) if isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.Name)
        and getattr(n.func, "id", getattr(n.func, "attr", None)) in CHECKS}


def solution_values(code: str, names: set[str]) -> set[float]:
    """Numbers worked out from constants that a solution block assigns to one of ``names``."""
    tree = _parse(code)
    return set() if tree is None else _values(
        n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
        and isinstance(n.targets[0], ast.Name) and n.targets[0].id in names)


def _significant(v: float, digits: int) -> float:
    return float(f"{v:.{digits}g}")


def printed_forms(value: float) -> set[str]:
    """Ways a person writes ``value``: exact, rounded to 3-5 significant digits, with or without
    thousands separators, and millions or billions as '58 million', '58.2M'. Empty when the
    value is too round to be told apart from other numbers (fewer than 3 significant digits)."""
    v = abs(value)
    if len(f"{v:.6g}".split("e")[0].replace(".", "").strip("0")) < 3:  # significant digits, up to 6
        return set()
    forms = set()
    for digits in (3, 4, 5, 6, 12):
        r = _significant(v, digits)
        if r.is_integer():
            forms |= {f"{int(r)}", f"{int(r):,}", f"{int(r):_}"}
        else:
            forms.add(f"{r:.{max(0, digits - 1 - math.floor(math.log10(r)))}f}".rstrip("0").rstrip("."))
    for scale, words in ((1e6, ("million", "M")), (1e9, ("billion", "B"))):
        if v >= scale:
            for decimals in (0, 1, 2):
                n = f"{v / scale:.{decimals}f}"
                forms |= {f"{n} {words[0]}", f"{n}{words[1]}", f"{n} {words[1]}"}
    return {f for f in forms if len(f.replace(",", "").replace("_", "").replace(".", "")) >= 3}


def _pattern(form: str) -> re.Pattern:
    # a whole number: no digit, separator-and-digit or decimal point around it
    return re.compile(rf"(?<![\d.,_]){re.escape(form)}(?![\d_]|[.,]\d)")


def answer_values(hidden_blocks: list[str], solution_blocks: list[str] = ()) -> set[float]:
    """The expected numbers of the hidden tests, and the reference's numbers for the names they check."""
    names = set().union(set(), *map(checked_names, hidden_blocks))
    return set().union(set(), *map(expected_values, hidden_blocks),
                       *(solution_values(b, names) for b in solution_blocks))


def stated_answers(release_nb, hidden_blocks: list[str], solution_blocks: list[str] = ()) -> list[str]:
    """'cell i states <form> (an answer, v)' for every distinctive answer value
    (:func:`answer_values`) that the release notebook prints in any cell."""
    found = []
    patterns = {v: [(f, _pattern(f)) for f in sorted(printed_forms(v), key=len, reverse=True)]
                for v in answer_values(hidden_blocks, solution_blocks)}
    for i, cell in enumerate(release_nb.cells):
        for v, forms in sorted(patterns.items()):
            hit = next((f for f, p in forms if p.search(cell.source)), None)
            if hit is not None:
                found.append(f"cell {i} states {hit!r} (an autograded answer, {v:g})")
    return found
