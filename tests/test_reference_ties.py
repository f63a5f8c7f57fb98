"""Max-pool ties in the reference, worked out exactly, for the three tie rules.

The rules (INTERFACE.md, "Max-pool ties"), applied separately to every pooling window:
- "all":   every tied maximum of the window receives the window's full dout;
- "split": each of the k tied maxima receives dout / k;
- "first": only the first tied maximum in row-major order within the window receives dout.
Where windows overlap, an input receives the sum over every window that routes gradient to it.

Every expected array below is written out by hand. A numerical gradient cannot check any of
this (see the last test), so these literal cases are the oracle.
"""
import numpy as np
import pytest

from oracles import brute_max_pool_backward
from reference.gradient_check import eval_numerical_gradient_array
from reference.layers import max_pool_backward, max_pool_forward

TIE_RULES = ("all", "split", "first")


def as_4d(rows):
    """A single 2-D plane as an array of shape (1, 1, H, W)."""
    return np.array(rows, dtype=float)[None, None]


def pool_param(size, stride):
    ph, pw = size
    return {"pool_height": ph, "pool_width": pw, "stride": stride}


def backward(x, size, stride, dout, ties):
    """Run the reference forward then backward on one plane; returns the 2-D dx."""
    _, cache = max_pool_forward(as_4d(x), pool_param(size, stride))
    return max_pool_backward(as_4d(dout), cache, ties=ties)[0, 0]


# name: (x, pool size, stride, dout, {rule: expected dx})
WORKED_CASES = {
    "flat-2x2-window": (
        [[5, 5],
         [5, 5]], (2, 2), 2,
        [[8]],
        {"all":   [[8, 8],
                   [8, 8]],
         "split": [[2, 2],
                   [2, 2]],
         "first": [[8, 0],
                   [0, 0]]},
    ),
    "2-way-tie-on-the-diagonal": (
        [[4, 1],
         [0, 4]], (2, 2), 2,
        [[6]],
        {"all":   [[6, 0],
                   [0, 6]],
         "split": [[3, 0],
                   [0, 3]],
         "first": [[6, 0],
                   [0, 0]]},
    ),
    # Row-major order: (0, 1) comes before (1, 0); column-major order would pick (1, 0).
    "2-way-tie-on-the-anti-diagonal-row-major-first": (
        [[1, 4],
         [4, 0]], (2, 2), 2,
        [[6]],
        {"all":   [[0, 6],
                   [6, 0]],
         "split": [[0, 3],
                   [3, 0]],
         "first": [[0, 6],
                   [0, 0]]},
    ),
    # The worked example of the reference's docstring.
    "2-way-tie-in-a-column": (
        [[3, 1],
         [3, 0]], (2, 2), 2,
        [[6]],
        {"all":   [[6, 0],
                   [6, 0]],
         "split": [[3, 0],
                   [3, 0]],
         "first": [[6, 0],
                   [0, 0]]},
    ),
    # A maximum below zero: nothing may assume the maximum is >= 0.
    "tie-of-negative-maxima": (
        [[-2, -2],
         [-5, -3]], (2, 2), 2,
        [[6]],
        {"all":   [[6, 6],
                   [0, 0]],
         "split": [[3, 3],
                   [0, 0]],
         "first": [[6, 0],
                   [0, 0]]},
    ),
    # Ties below the maximum (the two 1s) get nothing.
    "tie-below-the-maximum-is-ignored": (
        [[1, 1],
         [0, 5]], (2, 2), 2,
        [[6]],
        {"all":   [[0, 0],
                   [0, 6]],
         "split": [[0, 0],
                   [0, 6]],
         "first": [[0, 0],
                   [0, 6]]},
    ),
    "3-way-tie-in-a-2x2-window": (
        [[2, 0],
         [2, 2]], (2, 2), 2,
        [[9]],
        {"all":   [[9, 0],
                   [9, 9]],
         "split": [[3, 0],
                   [3, 3]],
         "first": [[9, 0],
                   [0, 0]]},
    ),
    "4-way-tie-at-the-corners-of-a-3x3-window": (
        [[7, 1, 7],
         [2, 3, 4],
         [7, 5, 7]], (3, 3), 1,
        [[8]],
        {"all":   [[8, 0, 8],
                   [0, 0, 0],
                   [8, 0, 8]],
         "split": [[2, 0, 2],
                   [0, 0, 0],
                   [2, 0, 2]],
         "first": [[8, 0, 0],
                   [0, 0, 0],
                   [0, 0, 0]]},
    ),
    # Two windows side by side (stride 2, no overlap), each with its own tie.
    "separate-windows-tie-independently": (
        [[1, 1, 0, 3],
         [0, 1, 3, 2]], (2, 2), 2,
        [[4, 10]],
        {"all":   [[4, 4, 0, 10],
                   [0, 4, 10, 0]],
         "split": [[4 / 3, 4 / 3, 0, 5],
                   [0, 4 / 3, 5, 0]],
         "first": [[4, 0, 0, 10],
                   [0, 0, 0, 0]]},
    ),
    # 3x3 input, 2x2 windows, stride 1: the centre 9 is the unique maximum of all four
    # windows, so it gets the sum of the four douts, 1 + 2 + 3 + 4 = 10. No ties: the rules agree.
    "overlap-centre-is-the-max-of-all-four-windows": (
        [[1, 2, 3],
         [4, 9, 5],
         [6, 7, 8]], (2, 2), 1,
        [[1, 2],
         [3, 4]],
        {"all":   [[0, 0, 0],
                   [0, 10, 0],
                   [0, 0, 0]],
         "split": [[0, 0, 0],
                   [0, 10, 0],
                   [0, 0, 0]],
         "first": [[0, 0, 0],
                   [0, 10, 0],
                   [0, 0, 0]]},
    ),
    # Same geometry, a different maximum in each window: 5, 6, 8, 9.
    "overlap-each-window-has-its-own-max": (
        [[1, 2, 3],
         [4, 5, 6],
         [7, 8, 9]], (2, 2), 1,
        [[1, 2],
         [3, 4]],
        {"all":   [[0, 0, 0],
                   [0, 1, 2],
                   [0, 3, 4]],
         "split": [[0, 0, 0],
                   [0, 1, 2],
                   [0, 3, 4]],
         "first": [[0, 0, 0],
                   [0, 1, 2],
                   [0, 3, 4]]},
    ),
    # 3x3 input, 2x2 windows, stride 1, with ties:
    #   window (0,0) = [[3,3],[1,3]]: 3-way tie at (0,0), (0,1), (1,1); dout 6
    #   window (0,1) = [[3,0],[3,2]]: 2-way tie at (0,1), (1,1);        dout 10
    #   window (1,0) = [[1,3],[0,1]]: unique max at (1,1);              dout 1
    #   window (1,1) = [[3,2],[1,2]]: unique max at (1,1);              dout 2
    # all:   (0,0) 6;      (0,1) 6 + 10 = 16;   (1,1) 6 + 10 + 1 + 2 = 19
    # split: (0,0) 6/3 = 2; (0,1) 2 + 10/2 = 7;  (1,1) 2 + 5 + 1 + 2 = 10
    # first: window (0,0) -> (0,0) 6; window (0,1) -> (0,1) 10; windows (1,0), (1,1) -> (1,1) 1 + 2 = 3
    "overlap-with-ties": (
        [[3, 3, 0],
         [1, 3, 2],
         [0, 1, 2]], (2, 2), 1,
        [[6, 10],
         [1, 2]],
        {"all":   [[6, 16, 0],
                   [0, 19, 0],
                   [0, 0, 0]],
         "split": [[2, 7, 0],
                   [0, 10, 0],
                   [0, 0, 0]],
         "first": [[6, 10, 0],
                   [0, 3, 0],
                   [0, 0, 0]]},
    ),
    # A plateau of 1s, 2x2 windows, stride 1 on a 2x3 input: windows (0,0) and (0,1) both
    # cover the middle column. dout = [[4, 8]].
    # all:   left column 4, middle column 4 + 8 = 12, right column 8
    # split: left 1, middle 1 + 2 = 3, right 2
    # first: window (0,0) -> (0,0); window (0,1) -> (0,1)
    "overlap-on-a-flat-plateau": (
        [[1, 1, 1],
         [1, 1, 1]], (2, 2), 1,
        [[4, 8]],
        {"all":   [[4, 12, 8],
                   [4, 12, 8]],
         "split": [[1, 3, 2],
                   [1, 3, 2]],
         "first": [[4, 8, 0],
                   [0, 0, 0]]},
    ),
    # 3x3 input, 2x2 window, stride 2: only one window, rows/columns 2 are never read,
    # even though they hold the largest values.
    "uneven-stride-unreached-row-and-column-get-nothing": (
        [[1, 2, 9],
         [2, 2, 9],
         [9, 9, 9]], (2, 2), 2,
        [[6]],
        {"all":   [[0, 6, 0],
                   [6, 6, 0],
                   [0, 0, 0]],
         "split": [[0, 2, 0],
                   [2, 2, 0],
                   [0, 0, 0]],
         "first": [[0, 6, 0],
                   [0, 0, 0],
                   [0, 0, 0]]},
    ),
}


@pytest.mark.parametrize("ties", TIE_RULES)
@pytest.mark.parametrize("case", list(WORKED_CASES), ids=list(WORKED_CASES))
def test_max_pool_backward_matches_hand_worked_tie_cases(case, ties):
    x, size, stride, dout, expected = WORKED_CASES[case]

    dx = backward(x, size, stride, dout, ties)

    np.testing.assert_allclose(dx, np.array(expected[ties], dtype=float), rtol=1e-15, atol=0)


def test_max_pool_backward_uses_the_all_rule_by_default():
    _, cache = max_pool_forward(as_4d([[4, 1], [0, 4]]), pool_param((2, 2), 2))

    dx = max_pool_backward(as_4d([[6]]), cache)

    np.testing.assert_array_equal(dx, as_4d([[6, 0], [0, 6]]))


def test_max_pool_forward_of_the_overlap_with_ties_case():
    out, _ = max_pool_forward(as_4d([[3, 3, 0], [1, 3, 2], [0, 1, 2]]), pool_param((2, 2), 1))

    np.testing.assert_array_equal(out, as_4d([[3, 3], [3, 3]]))


def test_ties_are_resolved_per_example_and_per_channel():
    # Same 2x2 window contents in different (n, c) slots: each slot is its own window.
    x = np.array([[[[2, 2], [0, 1]], [[0, 1], [1, 1]]],
                  [[[5, 0], [0, 0]], [[3, 3], [3, 3]]]], dtype=float)
    dout = np.array([[[[4]], [[6]]],
                     [[[8]], [[12]]]], dtype=float)
    _, cache = max_pool_forward(x, pool_param((2, 2), 2))

    np.testing.assert_array_equal(max_pool_backward(dout, cache, ties="all"),
                                  [[[[4, 4], [0, 0]], [[0, 6], [6, 6]]],
                                   [[[8, 0], [0, 0]], [[12, 12], [12, 12]]]])
    np.testing.assert_allclose(max_pool_backward(dout, cache, ties="split"),
                               [[[[2, 2], [0, 0]], [[0, 2], [2, 2]]],
                                [[[8, 0], [0, 0]], [[3, 3], [3, 3]]]], rtol=1e-15, atol=0)
    np.testing.assert_array_equal(max_pool_backward(dout, cache, ties="first"),
                                  [[[[4, 0], [0, 0]], [[0, 6], [0, 0]]],
                                   [[[8, 0], [0, 0]], [[12, 0], [0, 0]]]])


# --------------------------------------------------------------------------------------
# Random integer inputs (full of ties) against a loop statement of each rule
# --------------------------------------------------------------------------------------

# (N, C, H, W, pool_height, pool_width, stride)
INTEGER_GEOMETRIES = [
    pytest.param((2, 3, 4, 4, 2, 2, 2), id="2x2-stride2"),
    pytest.param((2, 2, 5, 5, 2, 2, 1), id="2x2-stride1-overlap"),
    pytest.param((2, 2, 7, 7, 3, 3, 2), id="3x3-stride2-overlap"),
    pytest.param((1, 2, 6, 7, 3, 2, 1), id="3x2-stride1-non-square"),
    pytest.param((2, 1, 7, 8, 2, 3, 3), id="2x3-stride3-gaps-uneven"),
    pytest.param((1, 1, 4, 4, 4, 4, 1), id="one-window-the-whole-input"),
]


@pytest.mark.parametrize("ties", TIE_RULES)
@pytest.mark.parametrize("geometry", INTEGER_GEOMETRIES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_pool_backward_on_integer_inputs_full_of_ties_matches_loop_statement_of_the_rule(geometry, ties, seed):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(seed)
    x = rng.randint(0, 3, size=(N, C, H, W)).astype(float)  # values from {0, 1, 2}
    out, cache = max_pool_forward(x, pool_param((ph, pw), stride))
    dout = rng.randint(-5, 6, size=out.shape).astype(float)

    dx = max_pool_backward(dout, cache, ties=ties)

    expected = brute_max_pool_backward(dout, x, ph, pw, stride, ties)
    if ties == "split":  # shares like dout / 3 are not exact in binary
        np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-12)
    else:                # integer dout, integer sums: exact
        np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("geometry", INTEGER_GEOMETRIES)
def test_integer_inputs_really_contain_ties_so_the_rules_disagree(geometry):
    # Guards the test above: on these inputs the three rules give three different answers.
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(0)
    x = rng.randint(0, 3, size=(N, C, H, W)).astype(float)
    out, cache = max_pool_forward(x, pool_param((ph, pw), stride))
    dout = rng.randint(1, 6, size=out.shape).astype(float)

    dx = {ties: max_pool_backward(dout, cache, ties=ties) for ties in TIE_RULES}

    assert not np.allclose(dx["all"], dx["split"])
    assert not np.allclose(dx["all"], dx["first"])
    assert not np.allclose(dx["split"], dx["first"])
    # Conservation: "split" and "first" hand out exactly the total dout; "all" hands out more.
    assert dx["split"].sum() == pytest.approx(dout.sum(), rel=1e-12)
    assert dx["first"].sum() == dout.sum()
    assert dx["all"].sum() > dout.sum()


# --------------------------------------------------------------------------------------
# Why a numerical gradient cannot check ties
# --------------------------------------------------------------------------------------

# k tied maxima of value 1 in one 2x2 window; the other inputs are 0.
TIED_WINDOWS = {
    2: [[1, 0], [0, 1]],
    3: [[1, 1], [0, 1]],
    4: [[1, 1], [1, 1]],
}


@pytest.mark.parametrize("k", [2, 3, 4], ids=["2-way-tie", "3-way-tie", "4-way-tie"])
def test_numerical_gradient_gives_half_of_dout_at_a_tie_whatever_k_and_whatever_the_rule(k):
    """A centred difference cannot tell the tie rules apart, so tie cases need exact values.

    Nudge one of k tied maxima by +h: it becomes the unique maximum and the window's output
    rises by h. Nudge it by -h: the other tied inputs still hold the old maximum, so the output
    does not change. The centred difference is (h - 0) / (2h) * dout = 0.5 * dout, for k = 2, 3
    or 4 alike. The exact rules say dout ("all"), dout / k ("split"), or dout for the first tied
    input and 0 for the others ("first"). So 0.5 * dout agrees with "split" only by coincidence
    when k == 2 and disagrees with "all" and "first" everywhere: a numerical check on tied inputs
    would fail a correct submission, whatever rule the assignment uses.
    """
    x = as_4d(TIED_WINDOWS[k])
    tied = x[0, 0] == 1
    params = pool_param((2, 2), 2)
    dout = as_4d([[6.0]])

    numeric = eval_numerical_gradient_array(lambda v: max_pool_forward(v, params)[0], x, dout, h=1e-6)[0, 0]

    # 0.5 * dout = 3 at each tied input, whatever k; 0 at the smaller inputs.
    np.testing.assert_allclose(numeric[tied], np.full(k, 3.0), rtol=1e-8)
    np.testing.assert_array_equal(numeric[~tied], 0.0)

    exact = {ties: max_pool_backward(dout, max_pool_forward(x, params)[1], ties=ties)[0, 0][tied] for ties in TIE_RULES}
    # Each rule's exact answer at the tied inputs (in row-major order), worked out above.
    np.testing.assert_array_equal(exact["all"], np.full(k, 6.0))
    np.testing.assert_allclose(exact["split"], np.full(k, 6.0 / k), rtol=1e-15)
    np.testing.assert_array_equal(exact["first"], [6.0] + [0.0] * (k - 1))

    assert not np.isclose(numeric[tied], exact["all"]).any()
    assert not np.isclose(numeric[tied], exact["first"]).any()
    if k == 2:  # 0.5 * dout == dout / 2: the one coincidence
        assert np.isclose(numeric[tied], exact["split"]).all()
    else:
        assert not np.isclose(numeric[tied], exact["split"]).any()
