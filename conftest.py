"""Pytest settings for the whole repository (tests/ and the nbval runs over notebooks)."""
import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
