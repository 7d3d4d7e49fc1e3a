"""An nbgrader preprocessor that keeps hidden tests out of the feedback students get.

nbgrader's autograded notebooks contain the hidden tests, and a failing hidden assert
prints its own source line in the traceback. For feedback, each graded cell keeps its
visible part, a note where the hidden tests were, and only the error's name and message.
"""
from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
PLACEHOLDER = "# (hidden tests ran here; their code is not shown)"
_HIDDEN_BLOCK = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)


def strip_hidden(source: str) -> str:
    """The source with every hidden-test block replaced by a one-line placeholder."""
    return _HIDDEN_BLOCK.sub(PLACEHOLDER, source)


class HideHiddenTests(Preprocessor):
    """Remove hidden test code from sources and tracebacks before feedback is rendered."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and BEGIN in cell.source:
            cell.source = strip_hidden(cell.source)
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
