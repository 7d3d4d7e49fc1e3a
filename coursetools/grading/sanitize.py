"""Fixes to nbgrader's handling of damaged submissions: duplicated cells, deleted or moved locked cells.

A student who copies a graded cell (Jupyter's copy-paste keeps its metadata) submits two
cells with the same grade id. nbgrader's ``DeduplicateIds`` keeps the last one and empties
the other's nbgrader metadata, which its own metadata check then reads as "an old version of
the nbgrader metadata format": the whole submission fails to grade. :class:`DropDuplicateIds`
removes the nbgrader metadata of the extra copies altogether, so they become ordinary cells
and the submission is graded like any other.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import DeduplicateIds, NbGraderPreprocessor
from traitlets import Unicode


class DropDuplicateIds(DeduplicateIds):
    """``DeduplicateIds``, leaving the extra copies with no nbgrader metadata (not an empty dict)."""

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.metadata.get("nbgrader", None) == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class RestoreLockedCells(NbGraderPreprocessor):
    """Put back the instructor's locked code cells (tests, setup) that a submission deleted or moved.

    Locked cells are the instructor's, not the student's work: a correct solution must not lose a
    test's points because its test cell was deleted, nor fail because the test was moved above the
    function it tests. Every locked code cell of the source notebook that the submission lacks is
    inserted after the graded cell it follows in the source (with the gradebook's content, as
    nbgrader's ``OverwriteCells`` restores an edited one); one found above that cell is moved back
    below it. A markdown note before each such cell says so in the graded notebook and the feedback.
    (nbgrader's own ``OverwriteCells.add_missing_cells`` restores grade cells only, not setup
    cells, moves nothing, and fails when the cell before a missing one is missing too.)
    """

    note = Unicode("**Restored by the grader:** the locked cell `{grade_id}` {why}; it was put back where "
                   "the released notebook has it and run there.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            cells = {c.name: (c.cell_type, c.locked, c.source, c.checksum) for c in source_nb.source_cells}
            points = {c.name: c.max_score for c in source_nb.grade_cells}
        order = [g for g in self._source_order(info["assignment"], info["notebook"]) if g in cells]
        if not order:
            self.log.warning("neither the source nor the release notebook of %s/%s is readable: locked cells "
                             "cannot be put back in place", info["assignment"], info["notebook"])
        for position, grade_id in enumerate(order):
            cell_type, locked, source, checksum = cells[grade_id]
            if not (locked and cell_type == "code"):
                continue
            ids = [_grade_id(c) for c in nb.cells]
            before = [g for g in reversed(order[:position]) if g in ids]
            # The solution it must follow (a test runs after the function it tests), and the cell it
            # follows in the release (where a missing cell goes back).
            solution = next((g for g in before if not cells[g][1]), None)
            floor = ids.index(solution) + 1 if solution else 0
            at = max(floor, ids.index(before[0]) + 1) if before else floor
            if grade_id in ids:
                if ids.index(grade_id) >= floor:
                    continue
                cell = nb.cells.pop(ids.index(grade_id))
                at -= 1
                why = f"had been moved above `{solution}`, the cell it tests"
            else:
                cell = self._cell(grade_id, source, checksum, points.get(grade_id))
                why = "was missing from the submission"
            self.log.warning("%s: locked cell %s %s; restored", info.get("student", "?"), grade_id, why)
            nb.cells.insert(at, cell)
            nb.cells.insert(at, nbformat.v4.new_markdown_cell(self.note.format(grade_id=grade_id, why=why)))
        return nb, resources

    def _source_order(self, assignment: str, notebook: str) -> list[str]:
        """The grade ids of the source notebook (else the release's), in order; empty if neither is readable.

        The gradebook cannot say: it stores cells without their order.
        """
        coursedir = self._coursedir()
        for folder in (coursedir.source_directory, coursedir.release_directory):
            path = Path(coursedir.format_path(folder, ".", assignment)) / f"{notebook}.ipynb"
            try:
                return [g for g in map(_grade_id, nbformat.read(path, as_version=4).cells) if g]
            except (OSError, ValueError):
                continue
        return []

    def _coursedir(self):
        """The converter's course directory (preprocessors hang below the exporter, below the converter)."""
        owner = self
        while owner is not None:
            if getattr(owner, "coursedir", None) is not None:
                return owner.coursedir
            owner = getattr(owner, "parent", None)
        return CourseDirectory(config=self.config)

    @staticmethod
    def _cell(grade_id: str, source: str, checksum: str, points: float | None):
        cell = nbformat.v4.new_code_cell(source)
        meta = {"grade": points is not None, "grade_id": grade_id, "locked": True, "solution": False,
                "checksum": checksum, "cell_type": "code"}
        if points is not None:
            meta["points"] = points
        cell.metadata.update(deletable=False, editable=False, nbgrader=meta)
        return MetadataValidator().upgrade_cell_metadata(cell)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
