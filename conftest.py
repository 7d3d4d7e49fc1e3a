"""Pytest settings for the whole repository (tests/ and the nbval runs over notebooks)."""
import os

import pytest

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(items):
    """Under pytest-xdist (--dist loadgroup) the cells of one notebook must share a worker
    and a kernel, so every nbval item is grouped by its notebook."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.xdist_group(str(item.fspath)))
