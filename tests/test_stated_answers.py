"""A release must not state an autograded number: the round trip's leak check (coursetools.stated_answers)."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools.roundtrip import leaks
from coursetools.stated_answers import answer_values, printed_forms, stated_answers


def _source(hidden: str, solution: str = "n152_cifar = count_trainable(model)"):
    return new_notebook(cells=[
        new_code_cell(f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION"),
        new_code_cell(f"check_equal(1, 1, 'visible')\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS")])


def _release(*texts: str):
    return new_notebook(cells=[new_markdown_cell(t) for t in texts])


HIDDEN = ("check_equal(n152_cifar, 58_164_298, 'n152_cifar')\n"
          "check_close(mb152_cifar, 58_164_298 * 4 / 1e6, 'mb152_cifar')\n"
          "check_close(mib152_cifar, 58_164_298 * 4 / 1048576, 'mib')\n"
          "assert q_small == 8, 'q_small'")


def test_every_printed_form_of_a_hidden_expected_value_is_caught():
    source = _source(HIDDEN)
    for text in ("ResNet-152's 58 million parameters", "about 233 MB", "222 MiB", "58,164,298 of them",
                 "58.2M weights", "232.66 MB", "print(58164298)", "n = 58_164_298"):
        found = leaks(_release(text), source)
        assert found and "autograded answer" in found[0], text


def test_numbers_that_are_not_answers_or_are_too_round_are_not_flagged():
    source = _source(HIDDEN)
    assert leaks(_release("batch 256 and 1,024 images; 8 filters; 58 layers; 2330 steps; 0.233"), source) == []
    assert printed_forms(8) == printed_forms(100) == printed_forms(0.5) == set()
    assert "233" in printed_forms(232.657192) and "58 million" in printed_forms(58_164_298)


def test_a_reference_solution_worked_out_from_constants_counts_as_an_answer():
    source = _source("check_close(q_zip_correct, _p, 'q_zip_correct')",
                     solution="q_zip_correct = (1 - 0.0015) ** 5\nhelper = 12345")
    assert answer_values([c.source for c in source.cells][1:], [source.cells[0].source]) >= {(1 - 0.0015) ** 5}
    assert stated_answers(_release("the code is read right with probability 0.9925"),
                          ["check_close(q_zip_correct, _p, 'q_zip_correct')"],
                          ["q_zip_correct = (1 - 0.0015) ** 5\nhelper = 12345"])
    # helper is not a checked name: its number may appear
    assert leaks(_release("12345"), source) == []


def test_math_calls_and_unparseable_blocks():
    (value,) = answer_values(["check_close(x, math.exp(5 * math.log1p(-0.0015)), 'x')"])
    assert abs(value - (1 - 0.0015) ** 5) < 1e-12
    assert answer_values(["for i in range(3):\n    check_equal(f(i), g(i), 'computed')"]) == set()
    assert answer_values(["this is not python ("]) == set()


def test_a_solution_line_that_the_release_also_shows_is_still_reported():
    # the course check's rule: the author writes the solution line differently instead
    solution = "for p in SWEEP_P:\n    helpers.seed_everything(0)\n    model = small_cnn(dropout=float(p))"
    source = new_notebook(cells=[
        new_code_cell(f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION"),
        new_code_cell("helpers.seed_everything(0)\nablation = small_cnn(batchnorm=False)")])
    release = nbformat.from_dict(source)
    release.cells[0].source = "raise NotImplementedError()"
    assert leaks(release, source) == ["cell 1 leaks 'helpers.seed_everything(0)'"]


def test_feedback_may_show_a_hidden_line_that_the_solution_also_has():
    from coursetools.roundtrip import MARKERS, text_outside
    nb = new_notebook(cells=[
        new_code_cell("### BEGIN SOLUTION\ntorch.manual_seed(4)\n### END SOLUTION"),
        new_code_cell("### BEGIN HIDDEN TESTS\ntorch.manual_seed(4)\ncheck_equal(secret_answer, 41)\n### END HIDDEN TESTS")])
    shown = text_outside(nb, [MARKERS[2:]])
    assert "torch.manual_seed(4)" in shown and "check_equal(secret_answer, 41)" not in shown
