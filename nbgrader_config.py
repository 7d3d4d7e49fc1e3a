"""nbgrader configuration for the course directory (this folder is the course root)."""
import os
import sys

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, GetGrades, OverwriteCells, OverwriteKernelspec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coursetools.feedback import HideHiddenTests  # noqa: E402
from coursetools.sanitize import DropDuplicateIds  # noqa: E402


def _stderr_rule() -> str:
    """helpers.selfcheck.IGNORED_STDERR, read without importing the helpers package (and torch) on every command."""
    import importlib.util
    folder = importlib.util.find_spec("helpers").submodule_search_locations[0]
    spec = importlib.util.spec_from_file_location("_course_selfcheck", os.path.join(folder, "selfcheck.py"))
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.IGNORED_STDERR


c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cnn-course"
# Runtime folders and data that must never be copied into a release or a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "data"]

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding runs in fast mode unless COURSE_FAST is set explicitly, and in grading mode; a cell that runs past
# the timeout (say, an infinite loop) fails on its own and grading moves on.
if len(sys.argv) > 1 and sys.argv[1] in {"autograde", "validate"}:
    os.environ.setdefault("COURSE_FAST", "1")
    # Training cells load the submitted models (helpers.fit_or_load) instead of training again.
    os.environ["COURSE_GRADING"] = "1"
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.ExecutePreprocessor.timeout = 120

# A submission with a copied graded cell is graded (nbgrader's own DeduplicateIds makes it ungradable).
c.Autograde.sanitize_preprocessors = [ClearOutput, DropDuplicateIds, OverwriteKernelspec, OverwriteCells,
                                      CheckCellMetadata]

# A test cell that writes to stderr scores zero in nbgrader; drop the stderr noise that
# libraries print on their own (warnings, progress bars) before grades are decided.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = _stderr_rule()  # helpers.self_check applies the same rule

# Feedback shows each test's result and message, never hidden test code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
