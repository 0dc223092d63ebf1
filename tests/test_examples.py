"""The chapter's worked examples, digit for digit against the outputs the book's chapter-5
notebook printed (iamtrask/Grokking-Deep-Learning), in Python's repr, on every CPU.

Seed 001 lost its minus signs in extraction ("delta = pred  true", weights [0.1, 0.2, .1]); the
notebook has them, and so do the numbers below (pred 0.86 < true 1, so delta < 0).
"""

import json

from conftest import run_cli

from gdcli.book.examples import EXAMPLES, run


def test_multi_input_three_iterations_match_the_seed():
    steps = run(EXAMPLES["multi-input"])
    assert [s["pred"] for s in steps[:3]] == [0.8600000000000001, 0.9637574999999999,
                                              0.9906177228125002]  # fmt: skip
    assert [s["error"] for s in steps[:3]] == [0.01959999999999997, 0.0013135188062500048,
                                               8.802712522307997e-05]  # fmt: skip
    assert steps[0]["weights"] == [0.1, 0.2, -0.1]
    assert steps[1]["weights"] == [0.1119, 0.20091, -0.09832]
    assert steps[2]["weights"] == [0.11498061250000001, 0.20114557625, -0.09788509000000001]
    assert steps[0]["weight_deltas"] == [-1.189999999999999, -0.09099999999999994,
                                         -0.16799999999999987]  # fmt: skip
    assert steps[2]["weight_deltas"] == [-0.07974935609374867, -0.006098480171874899,
                                         -0.011258732624999811]  # fmt: skip


# Every number the notebook printed: cells 1 and 3 (multi-input), 5 (freeze), 7 (multi-output)
# and 11 (multi-in-out, printed by an old numpy with 17 digits: compared as floats).
NOTEBOOK = {
    "multi-input": [
        ("0.8600000000000001", "0.01959999999999997", "-0.1399999999999999", "[0.1, 0.2, -0.1]",
         "[-1.189999999999999, -0.09099999999999994, -0.16799999999999987]"),
        ("0.9637574999999999", "0.0013135188062500048", "-0.036242500000000066",
         "[0.1119, 0.20091, -0.09832]",
         "[-0.30806125000000056, -0.023557625000000044, -0.04349100000000008]"),
        ("0.9906177228125002", "8.802712522307997e-05", "-0.009382277187499843",
         "[0.11498061250000001, 0.20114557625, -0.09788509000000001]",
         "[-0.07974935609374867, -0.006098480171874899, -0.011258732624999811]"),
    ],
    "freeze": [
        ("0.8600000000000001", "0.01959999999999997", "-0.1399999999999999", "[0.1, 0.2, -0.1]",
         "[0, -0.09099999999999994, -0.16799999999999987]"),
        ("0.9382250000000001", "0.003816150624999989", "-0.06177499999999991",
         "[0.1, 0.2273, -0.04960000000000005]", "[0, -0.040153749999999946, -0.07412999999999989]"),
        ("0.97274178125", "0.000743010489422852", "-0.027258218750000007",
         "[0.1, 0.239346125, -0.02736100000000008]",
         "[0, -0.017717842187500006, -0.032709862500000006]"),
    ],
}  # fmt: skip


def test_every_number_the_notebook_printed():
    for name, iterations in NOTEBOOK.items():
        steps = run(EXAMPLES[name])
        for s, (pred, error, delta, weights, weight_deltas) in zip(steps, iterations, strict=False):
            assert (repr(s["pred"]), repr(s["error"]), repr(s["delta"])) == (pred, error, delta)
            assert (repr(s["weights"]), repr(s["weight_deltas"])) == (weights, weight_deltas)
    # cell 1: one step of multi-input, "Weights:" after it and its "Weight Deltas:"
    assert run(EXAMPLES["multi-input"], 1)[-1]["weights_after"] == [0.1119, 0.20091, -0.09832]
    # cell 7: multi-output
    out = run(EXAMPLES["multi-output"])
    assert repr(out[-1]["weights_after"]) == "[0.293825, 0.25655, 0.868475]"
    assert repr(out[0]["weight_deltas"]) == "[0.061750000000000006, -0.5655, 0.3152500000000001]"
    # cell 11: multi-in-out, alpha 0.01, weight_deltas = outer_prod(delta, input)
    printed = [[0.061324999999999998, 0.097042500000000004, -0.30546000000000001],
               [0.1017, 0.20013, 0.00023999999999999887],
               [-0.073525000000000007, 1.2943775, 0.089620000000000005]]  # fmt: skip
    assert run(EXAMPLES["multi-in-out"])[-1]["weights_after"] == printed


def test_multi_output_matches_the_seed():
    steps = run(EXAMPLES["multi-output"])
    assert steps[0]["weight_deltas"] == [0.061750000000000006, -0.5655, 0.3152500000000001]
    assert steps[-1]["weights_after"] == [0.293825, 0.25655, 0.868475]


def test_multi_in_out_delta_matches_the_seed_and_update_follows_the_math():
    steps = run(EXAMPLES["multi-in-out"])
    assert steps[0]["delta"] == [0.45500000000000007, -0.019999999999999907, 0.8650000000000001]
    # The seed's update pairs weights[i][j] (output i, input j) with weight_deltas[i][j] =
    # input[i] * delta[j], the wrong shape, and uses alpha 0.1. The mathematics: output i's
    # weight from input j moves by alpha * delta[i] * input[j], alpha 0.01 (DESIGN.md).
    after = steps[-1]["weights_after"]
    assert after[0][0] == 0.1 - 0.01 * (8.5 * 0.45500000000000007)
    assert after[1][1] == 0.2 - 0.01 * (0.65 * -0.019999999999999907)


def test_freeze_keeps_weight_a_and_error_still_falls():
    steps = run(EXAMPLES["freeze"], 20)
    assert all(s["weights"][0] == 0.1 for s in steps[:-1])
    assert all(s["weight_deltas"][0] == 0.0 for s in steps[:-1])
    assert steps[-2]["error"] < 1e-12 < steps[0]["error"]


def test_cli_prints_the_chapters_lines():
    result = run_cli("examples", "multi-input")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Iteration:1" in lines and "Pred:0.8600000000000001" in lines
    assert "Error:8.802712522307997e-05" in lines
    assert "[-1.189999999999999, -0.09099999999999994, -0.16799999999999987]" in lines


def test_cli_as_json_and_freeze_follow_up():
    # `all` includes the labs on the admissions table: tests/test_labs.py runs it with the table
    result = run_cli("examples", "freeze", "--json")
    data = json.loads(result.stdout)
    assert data["follow_up"]["weight_a"] == 0.1
    assert data["follow_up"]["error"] < 1e-12
    text = run_cli("examples", "freeze").stdout
    assert "error falls to near zero though a never moves" in text


def test_cli_unknown_example():
    from conftest import assert_one_line_error

    assert_one_line_error(run_cli("examples", "nope"), 2, "unknown example 'nope'")
