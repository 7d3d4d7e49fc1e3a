"""Shared code for the CNN course notebooks: configuration, data, training and plots.

Notebooks import it as ``import helpers`` after the setup cell; see each module's
docstring for what lives where.
"""
from .artifacts import ArtifactError, artifact_path, fit_or_load, load_model, required, save_model
from .checks import check_close, check_equal, passed
from .config import fast_mode, get_device, grading, pick, seed_everything, setup
from .data import (Batches, Dataset, DataUnavailableError, available_datasets, load_cifar10,
                   load_fashion_mnist, load_mnist, sample_image)
from .plotting import confusion_matrix, image_grid, kernel_grid, training_curves
from .report import measured
from .submission import submission_zip
from .training import History, accuracy, count_parameters, evaluate, train


def self_check(path=None):
    """Run the saved notebook's visible tests as the grader would; see :mod:`helpers.selfcheck`.

    (Imported when called, so that ``python -m helpers.selfcheck`` runs a module not yet loaded.)
    """
    from .selfcheck import self_check as run
    return run(path)

__all__ = [
    "ArtifactError", "artifact_path", "fit_or_load", "load_model", "required", "save_model",
    "check_close", "check_equal", "passed",
    "fast_mode", "get_device", "grading", "pick", "seed_everything", "setup",
    "Batches", "Dataset", "DataUnavailableError", "available_datasets", "load_cifar10",
    "load_fashion_mnist", "load_mnist", "sample_image",
    "self_check", "measured", "submission_zip",
    "confusion_matrix", "image_grid", "kernel_grid", "training_curves",
    "History", "accuracy", "count_parameters", "evaluate", "train",
]
