"""A fix to nbgrader's handling of duplicated cells in submissions.

A student who copies a graded cell (Jupyter's copy-paste keeps its metadata) submits two
cells with the same grade id. nbgrader's ``DeduplicateIds`` keeps the last one and empties
the other's nbgrader metadata, which its own metadata check then reads as "an old version of
the nbgrader metadata format": the whole submission fails to grade. :class:`DropDuplicateIds`
removes the nbgrader metadata of the extra copies altogether, so they become ordinary cells
and the submission is graded like any other.
"""
from __future__ import annotations

from nbgrader.preprocessors import DeduplicateIds


class DropDuplicateIds(DeduplicateIds):
    """``DeduplicateIds``, leaving the extra copies with no nbgrader metadata (not an empty dict)."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources
