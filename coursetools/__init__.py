"""Course-building tools for instructors and CI: the canonical setup cell, the nbgrader
round trip (release, fill in, autograde, feedback) and the feedback filter.

Notebooks never import this package; they import :mod:`helpers`.
"""
