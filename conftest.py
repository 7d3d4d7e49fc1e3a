"""Pytest settings for the whole repository (tests/ and the nbval runs over notebooks)."""
import os
import tempfile

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# Models trained while nbval runs notebooks go to a scratch folder, never into source/: files
# there are copied into the release and over students' files at grading.
os.environ.setdefault("COURSE_ARTIFACTS", tempfile.mkdtemp(prefix="course-artifacts-"))
