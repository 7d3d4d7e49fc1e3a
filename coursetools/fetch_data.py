"""`python -m coursetools.fetch_data`: download the datasets that are not on disk yet, once, and say what is there.

``make test`` runs it before the test workers start, so they never download at the same time
(each download also holds a file lock in the cache folder; see ``helpers.data``). Offline, or
with ``COURSE_OFFLINE=1``, it only reports: the notebooks then fall back as they always do.
"""
from __future__ import annotations

import sys

from helpers import data


def main() -> int:
    for name, error in data.fetch_datasets().items():
        if error:
            print(f"{name}: not downloaded ({error})")
    for name, state in data.available_datasets().items():
        print(f"{name:<24} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
