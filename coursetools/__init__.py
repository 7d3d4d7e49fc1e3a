"""Course-building tools for instructors and CI: the canonical setup cell, the nbgrader
round trip (release, fill in, autograde, feedback), how grading runs (:mod:`coursetools.grading`:
the sandbox, the feedback filter, the sanitizer) and the students the tests grade.

Notebooks never import this package; they import :mod:`helpers`.
"""
