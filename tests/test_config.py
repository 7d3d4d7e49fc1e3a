import random

import numpy as np
import pytest
import torch

import helpers
from helpers import config


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_FAST", value)
    assert config.fast_mode() is expected
    assert config.pick("full", "fast") == ("fast" if expected else "full")


@pytest.mark.parametrize("fast", ["1", "0"])
def test_pick_has_a_size_for_graded_runs_only_where_a_notebook_gives_one(monkeypatch, fast):
    monkeypatch.setenv("COURSE_FAST", fast)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    mode = "fast" if fast == "1" else "full"
    assert config.pick("full", "fast", graded="graded") == mode, "a student's own run never gets the graded size"
    for var, value in [("COURSE_GRADING", "1"), ("NBGRADER_EXECUTION", "autograde"), ("NBGRADER_EXECUTION", "validate")]:
        with monkeypatch.context() as m:
            m.setenv(var, value)
            assert config.pick("full", "fast", graded="graded") == "graded"
            # without a graded size, grading uses the size of the mode COURSE_FAST sets
            assert config.pick("full", "fast") == mode
            assert config.pick("full", "fast", graded=None) is None


def test_seed_everything_repeats_every_generator():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    config.seed_everything(3)
    first = draw()
    config.seed_everything(3)
    assert draw() == first
    config.seed_everything(4)
    assert draw() != first


def test_device_is_cpu_without_gpu_and_says_how_to_get_one(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(config, "_announced", set())
    assert config.get_device() == torch.device("cpu")
    out = capsys.readouterr().out
    assert "cpu" in out and "Change runtime type" in out
    config.get_device()
    assert capsys.readouterr().out == "", "the device is announced once per session"


def test_setup_returns_device_and_seeds(monkeypatch):
    monkeypatch.setattr(config, "_announced", set())
    device = helpers.setup(seed=5, verbose=False)
    a = torch.rand(3)
    helpers.setup(seed=5, verbose=False)
    assert isinstance(device, torch.device)
    assert torch.equal(a, torch.rand(3))


@pytest.mark.parametrize("env, grading, fast", [
    ({}, False, False),
    ({"NBGRADER_EXECUTION": "autograde"}, True, True),      # the formgrader's button, nbgrader --debug
    ({"NBGRADER_EXECUTION": "validate"}, True, True),       # the Validate button
    ({"COURSE_GRADING": "1", "COURSE_FAST": "0"}, True, False),  # an explicit full-mode grading run
])
def test_grading_mode_comes_from_the_kernel_environment(monkeypatch, env, grading, fast):
    for name in ("NBGRADER_EXECUTION", "COURSE_GRADING", "COURSE_FAST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert config.grading() is grading
    assert config.fast_mode() is fast
