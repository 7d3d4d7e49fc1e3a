"""An nbgrader preprocessor that keeps hidden tests out of the feedback students get.

nbgrader's autograded notebooks contain the hidden tests, and a failing hidden assert prints
its own source line in the traceback. For feedback, each graded cell keeps its visible part, a
note where the hidden tests were, and only the error's name and message. A submission can also
print hidden tests on purpose (a graded function that reads its caller's source with
``inspect``): every output line of every cell that reproduces a hidden-test line is removed.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests ran here; their code is not shown)"
REMOVED = "[line removed from feedback: it reproduces hidden test code]"
_HIDDEN_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
MIN_CHARS = 8  # shorter hidden lines (`)`, `else:`) say nothing about the tests


def strip_hidden(source: str) -> str:
    """The source with every hidden-test block replaced by a one-line placeholder."""
    return _HIDDEN_BLOCK.sub(PLACEHOLDER, source)


def hidden_lines(nb) -> set[str]:
    """The stripped lines of every hidden-test block in ``nb`` that are long enough to recognise."""
    lines = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for block in _HIDDEN_BLOCK.findall(cell.source):
                lines |= {s for s in (l.strip() for l in block.splitlines()[1:-1]) if len(s) >= MIN_CHARS}
    return lines


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


class _Text(HTMLParser):
    """The text of some HTML, tags dropped and entities decoded (the standard library's parser)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def scrub(text: str, hidden: set[str]) -> str:
    """``text`` with each line that contains a hidden line (spaces ignored) replaced by a note.

    A line is compared as it is and as the text of HTML, so a hidden line survives neither plain
    output (where ``a < b and c > d`` is not a tag) nor an HTML rendering of it.
    """
    if not hidden or not text:
        return text
    keys = {_squash(h) for h in hidden}
    out = []
    for line in text.splitlines(keepends=True):
        flat = (_squash(line), _squash(html_text(line)))
        out.append(REMOVED + "\n" if any(k in f for k in keys for f in flat) else line)
    return "".join(out)


def _scrub_output(out, hidden: set[str]) -> None:
    if "text" in out:
        out["text"] = scrub(out["text"] if isinstance(out["text"], str) else "".join(out["text"]), hidden)
    for key in ("evalue", "ename"):
        if key in out:
            out[key] = scrub(str(out[key]), hidden)
    if "traceback" in out:
        out["traceback"] = [scrub(line, hidden) for line in out["traceback"]]
    for mime, value in list(out.get("data", {}).items()):
        if isinstance(value, (str, list)) and (mime.startswith("text/") or mime.endswith(("json", "javascript"))):
            text = value if isinstance(value, str) else "".join(value)
            out["data"][mime] = scrub(text, hidden)


class HideHiddenTests(Preprocessor):
    """Remove hidden test code from sources, tracebacks and every output before feedback is rendered."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        self._hidden = hidden_lines(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if BEGIN in cell.source:
            cell.source = strip_hidden(cell.source)
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        for out in cell.get("outputs", []):
            _scrub_output(out, self._hidden)
        return cell, resources
