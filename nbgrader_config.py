"""nbgrader configuration for the course directory (this folder is the course root).

How grading works lives in ``coursetools.grading``; this file only switches its parts on and
holds the settings an instructor may change (the sandbox's limits, the cell timeout).
"""
import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput, GetGrades, IgnorePattern,
                                    LimitOutput, OverwriteCells, OverwriteKernelspec, SaveAutoGrades)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coursetools.grading import IGNORED_STDERR  # noqa: E402
from coursetools.grading.feedback import HideHiddenTests  # noqa: E402
from coursetools.grading.kernel import SandboxedExecute  # noqa: E402
from coursetools.grading.sanitize import DropDuplicateIds, RestoreLockedCells  # noqa: E402

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cnn-course"
# Runtime folders and data that must never be copied into a release or a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "data"]

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A submission with a copied graded cell is graded (nbgrader's own DeduplicateIds makes it ungradable);
# locked cells (tests, setup) that a student deleted or moved are put back where the release has them.
c.Autograde.sanitize_preprocessors = [ClearOutput, DropDuplicateIds, OverwriteKernelspec, OverwriteCells,
                                      RestoreLockedCells, CheckCellMetadata]
# Every submission runs in the sandbox (coursetools.grading.kernel), in grading mode and fast mode
# (unless COURSE_FAST is set); a cell that runs past the timeout (an infinite loop) fails on its own.
c.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
c.ExecutePreprocessor.timeout = 120
# The sandbox's limits (defaults shown; see coursetools/grading/kernel.py for every setting).
c.SandboxedKernelManager.memory_mb = 4096
c.SandboxedKernelManager.processes = 256
c.SandboxedKernelManager.file_size_mb = 256
c.SandboxedExecute.max_output_mb = 8
# UNSAFE, for machines without bubblewrap only: student code then runs as you, can read the
# solutions and the gradebook, change files and reach the network.
# c.SandboxedKernelManager.unsafe_no_sandbox = True

# A test cell that writes to stderr scores zero in nbgrader; drop the stderr noise that
# libraries print on their own (warnings, progress bars) before grades are decided.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = IGNORED_STDERR  # helpers.self_check applies the same rule

# Feedback shows each test's result and message, never hidden test code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
