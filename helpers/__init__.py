"""Shared code for the CNN course notebooks: configuration, data, training and plots.

Notebooks import it as ``import helpers`` after the setup cell; see each module's
docstring for what lives where.
"""
from .checks import check_close, check_equal, passed
from .config import fast_mode, get_device, pick, seed_everything, setup
from .data import (Batches, Dataset, DataUnavailableError, available_datasets, load_cifar10,
                   load_fashion_mnist, load_mnist, sample_image)
from .plotting import confusion_matrix, image_grid, kernel_grid, training_curves
from .training import (ArtifactError, History, accuracy, count_parameters, evaluate, load_model,
                       save_model, train)

__all__ = [
    "check_close", "check_equal", "passed",
    "fast_mode", "get_device", "pick", "seed_everything", "setup",
    "Batches", "Dataset", "DataUnavailableError", "available_datasets", "load_cifar10",
    "load_fashion_mnist", "load_mnist", "sample_image",
    "confusion_matrix", "image_grid", "kernel_grid", "training_curves",
    "ArtifactError", "History", "accuracy", "count_parameters", "evaluate", "load_model",
    "save_model", "train",
]
