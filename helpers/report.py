"""Numbers a notebook reached, recorded for the full-mode report (``coursetools.full_run``).

A test cell that holds a result to a threshold, or a cell whose number a written answer must
quote, calls :func:`measured`. It prints nothing and changes nothing: only when the full-mode run
sets ``COURSE_MEASURE`` to a file does it append one JSON line there, so the report can show
each threshold with the value the reference reached and its margin.
"""
from __future__ import annotations

import json
import os

MEASURE_ENV = "COURSE_MEASURE"


def measured(name: str, value: float, at_least: float | None = None, at_most: float | None = None,
             margin: float = 0.0, unit: str = "") -> None:
    """Record ``value`` under ``name``, with the threshold it is graded against, if any.

    ``margin`` is how far past the threshold the reference must land (0.002 for an accuracy
    target: 0.2 percentage points); ``unit`` is printed after the numbers in the report.
    """
    path = os.environ.get(MEASURE_ENV)
    if not path:
        return
    record = {"name": name, "value": float(value), "at_least": at_least, "at_most": at_most,
              "margin": margin, "unit": unit}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
