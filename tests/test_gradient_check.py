"""The verdicts of gradient_check.check_gradient, which students trust to tell them whether a
gradient is right: correct for every correct layer of the reference (convolution at stride 1
included, which gives relative errors near 1e-7 by the plain CS231n measure), wrong for the
common mistakes, and kinks left out instead of blamed."""
import numpy as np
import pytest

from reference.fc_net import FullyConnectedNet
from reference.gradient_check import CORRECT_BELOW, WRONG_ABOVE, check_gradient, gradient_error
from reference.layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward,
    avg_pool_forward,
    conv_backward,
    conv_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

SEEDS = range(5)
CONV_GEOMETRIES = [(1, 1, (2, 3, 7, 7)), (2, 1, (2, 3, 7, 7)), (1, 0, (2, 3, 5, 5)), (3, 2, (2, 3, 8, 6))]
POOL_GEOMETRIES = [(2, 2, 2), (3, 3, 1), (2, 3, 1), (3, 2, 2)]


def layer_checks(seed):
    """(what, f, x, gradient, dout) for every input of every layer, drawn from seed."""
    rng = np.random.RandomState(seed)
    checks = []
    x, w, b = rng.randn(4, 2, 3), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(4, 5)
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    checks += [("affine dx", lambda x, w=w, b=b: affine_forward(x, w, b)[0], x, dx, dout),
               ("affine dw", lambda w, x=x, b=b: affine_forward(x, w, b)[0], w, dw, dout),
               ("affine db", lambda b, x=x, w=w: affine_forward(x, w, b)[0], b, db, dout)]
    x, dout = rng.randn(4, 6), rng.randn(4, 6)
    checks.append(("relu dx", lambda x: relu_forward(x)[0], x, relu_backward(dout, relu_forward(x)[1]), dout))
    checks.append(("leaky dx", lambda x: leaky_relu_forward(x, 0.1)[0], x,
                   leaky_relu_backward(dout, leaky_relu_forward(x, 0.1)[1]), dout))
    scores, labels = rng.randn(5, 7), rng.randint(7, size=5)
    checks.append(("softmax dx", lambda s: softmax_loss(s, labels)[0], scores, softmax_loss(scores, labels)[1], None))
    for stride, pad, shape in CONV_GEOMETRIES:
        param = {"stride": stride, "pad": pad}
        x, w, b = rng.randn(*shape), rng.randn(4, 3, 3, 3), rng.randn(4)
        out, cache = conv_forward(x, w, b, param)
        dout = rng.randn(*out.shape)
        dx, dw, db = conv_backward(dout, cache)
        what = f"conv stride {stride} pad {pad}"
        checks += [(f"{what} dx", lambda x, w=w, b=b, p=param: conv_forward(x, w, b, p)[0], x, dx, dout),
                   (f"{what} dw", lambda w, x=x, b=b, p=param: conv_forward(x, w, b, p)[0], w, dw, dout),
                   (f"{what} db", lambda b, x=x, w=w, p=param: conv_forward(x, w, b, p)[0], b, db, dout)]
    for ph, pw, stride in POOL_GEOMETRIES:
        param = {"pool_height": ph, "pool_width": pw, "stride": stride}
        x = rng.randn(2, 3, 8, 8)
        out, cache = max_pool_forward(x, param)
        dout = rng.randn(*out.shape)
        checks.append((f"max pool {ph}x{pw} stride {stride}", lambda x, p=param: max_pool_forward(x, p)[0], x,
                       max_pool_backward(dout, cache), dout))
        checks.append((f"avg pool {ph}x{pw} stride {stride}", lambda x, p=param: avg_pool_forward(x, p)[0], x,
                       avg_pool_backward(dout, avg_pool_forward(x, param)[1]), dout))
    np.random.seed(seed)
    model = FullyConnectedNet(6, [10, 8], num_classes=4, weight_scale=5e-2, reg=0.1)
    X, y = rng.randn(3, 6), rng.randint(4, size=3)
    _, grads = model.loss(X, y)
    for name in sorted(grads):
        checks.append((f"network {name}", lambda _: model.loss(X, y)[0], model.params[name], grads[name], None))
    return checks


@pytest.mark.parametrize("seed", SEEDS)
def test_every_correct_gradient_of_the_reference_is_called_correct(seed):
    verdicts = {what: check_gradient(what, f, x, gradient, dout, verbose=False)
                for what, f, x, gradient, dout in layer_checks(seed)}
    assert set(verdicts.values()) == {"correct"}, {k: v for k, v in verdicts.items() if v != "correct"}


def test_a_correct_stride_1_convolution_that_the_plain_measure_puts_near_1e_7_is_correct(capsys):
    """The guidance students had said "around 1e-9 or less"; a correct stride-1 conv_backward
    gives more than that by the plain measure, and check_gradient calls it correct."""
    from reference.gradient_check import eval_numerical_gradient_array, rel_error
    worst = 0.0
    for seed in SEEDS:
        for what, f, x, gradient, dout in layer_checks(seed):
            if what.startswith("conv stride 1"):
                worst = max(worst, rel_error(gradient, eval_numerical_gradient_array(f, x, dout)))
                assert check_gradient(what, f, x, gradient, dout) == "correct"
    assert worst > 1e-9
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 3 * len(SEEDS)
    assert CORRECT_BELOW == 1e-6
    assert all(line.split(": correct (relative error ")[1].endswith("; a correct gradient stays below 1e-6)")
               for line in lines)


def wrong_gradients(seed):
    """(what, f, x, a wrong gradient, dout): common mistakes, made on the reference's own values."""
    rng = np.random.RandomState(seed)
    wrong = []
    x, w, b = rng.randn(4, 6), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(4, 5)
    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])
    wrong.append(("dx without w transposed", lambda x, w=w, b=b: affine_forward(x, w, b)[0], x,
                  dout @ np.ones((5, 6)), dout))
    wrong.append(("db averaged, not summed", lambda b, x=x, w=w: affine_forward(x, w, b)[0], b, dout.mean(axis=0),
                  dout))
    x, dout = rng.randn(4, 6), rng.randn(4, 6)
    wrong.append(("relu passing every gradient", lambda x: relu_forward(x)[0], x, dout.copy(), dout))
    wrong.append(("leaky slope hard-coded", lambda x: leaky_relu_forward(x, 0.25)[0], x,
                  leaky_relu_backward(dout, (x, 0.01)), dout))
    scores, labels = rng.randn(5, 7), rng.randint(7, size=5)
    wrong.append(("softmax not averaged", lambda s: softmax_loss(s, labels)[0], scores,
                  softmax_loss(scores, labels)[1] * 5, None))
    param = {"stride": 2, "pad": 1}
    x, w, b = rng.randn(2, 3, 7, 7), rng.randn(4, 3, 3, 3), rng.randn(4)
    out, cache = conv_forward(x, w, b, param)
    dout = rng.randn(*out.shape)
    dx, dw, db = conv_backward(dout, cache)
    wrong.append(("conv dw with the kernel flipped", lambda w, x=x, b=b: conv_forward(x, w, b, param)[0], w,
                  dw[:, :, ::-1, ::-1], dout))
    wrong.append(("conv dx missing the last row", lambda x, w=w, b=b: conv_forward(x, w, b, param)[0], x,
                  np.concatenate([dx[:, :, :-1], 0 * dx[:, :, -1:]], axis=2), dout))
    pool = {"pool_height": 3, "pool_width": 3, "stride": 1}
    x = rng.randn(1, 2, 6, 6)
    out, cache = avg_pool_forward(x, pool)
    dout = rng.randn(*out.shape)
    wrong.append(("avg pool not divided", lambda x: avg_pool_forward(x, pool)[0], x,
                  avg_pool_backward(dout, cache) * 9, dout))
    return wrong


@pytest.mark.parametrize("seed", SEEDS)
def test_the_common_mistakes_are_called_wrong_with_the_worst_element(seed):
    for what, f, x, gradient, dout in wrong_gradients(seed):
        assert check_gradient(what, f, x, gradient, dout, verbose=False) == "wrong", what


def test_a_wrong_gradient_is_reported_with_its_worst_element_and_how_many_disagree(capsys):
    x = np.array([[1.0, -2.0, 3.0]])
    dout = np.array([[0.5, 0.25, 2.0]])
    assert check_gradient("dx", lambda x: 3 * x, x, np.array([[1.5, 0.75, 2.0]]), dout) == "wrong"
    numeric = "6"   # 3 * dout at index (0, 2)
    assert capsys.readouterr().out == (f"dx: wrong (relative error 5.0e-1 at index (0, 2): yours 2, numerical "
                                       f"{numeric}; 1 of 3 elements disagree)\n")


def test_a_gradient_off_by_a_little_is_imprecise_and_says_where_to_look(capsys):
    x = np.array([1.0, -2.0, 3.0, 0.5])
    dout = np.array([0.5, -1.0, 2.0, 1.0])
    yours = 2 * dout
    yours[2] *= 1 + 1e-4
    assert CORRECT_BELOW < gradient_error(yours, 2 * dout).max() < WRONG_ABOVE
    assert check_gradient("dw", lambda x: 2 * x, x, yours, dout) == "imprecise"
    assert capsys.readouterr().out == ("dw: imprecise (relative error 5.0e-5 at index (2,): yours 4.0004, numerical "
                                       "4; 1 of 4 elements are off): too large for rounding in float64. Look for "
                                       "float32 arrays, or a small term left out\n")


def test_a_wrong_shape_is_wrong_whatever_the_values():
    x = np.zeros((2, 3))
    assert check_gradient("dx", lambda x: x, x, np.zeros((3, 2)), np.ones((2, 3)), verbose=False) == "wrong"


def test_an_input_within_h_of_a_kink_is_left_out_and_said_so(capsys):
    """A ReLU input of 4e-6 lies within h = 1e-5 of the kink at 0: the centred difference gives half
    the gradient there, and check_gradient leaves that element out instead of calling the gradient wrong."""
    x = np.array([[4e-6, 1.5, -0.75], [2.0, -1.0, 0.5]])
    dout = np.array([[2.0, 1.0, 1.0], [1.0, 1.0, 3.0]])
    gradient = relu_backward(dout, relu_forward(x)[1])
    assert check_gradient("dx", lambda x: relu_forward(x)[0], x, gradient, dout) == "correct"
    assert capsys.readouterr().out.endswith(
        "; 1 of 6 elements were left out: they sit within h of a kink (a ReLU input near 0, two near-equal maxima "
        "of a window), where no numerical gradient can be trusted\n")
    # the kink excuses only values between the slopes on its two sides: a sign error there is still wrong
    gradient[0, 0] = -2.0
    assert check_gradient("dx", lambda x: relu_forward(x)[0], x, gradient, dout, verbose=False) == "wrong"


def test_the_check_restores_its_input():
    rng = np.random.RandomState(0)
    x = rng.randn(2, 3, 5, 5)
    before = x.copy()
    param = {"stride": 1, "pad": 1}
    w, b = rng.randn(2, 3, 3, 3), rng.randn(2)
    out, cache = conv_forward(x, w, b, param)
    dout = rng.randn(*out.shape)
    check_gradient("dx", lambda x: conv_forward(x, w, b, param)[0], x, conv_backward(dout, cache)[0], dout,
                   verbose=False)
    assert np.array_equal(x, before)


@pytest.mark.parametrize("x, problem", [
    (np.array([[1, 2], [3, 4]]), "not int64"), (np.array([[1, 2], [3, 4]], dtype=np.float32), "not float32")])
def test_an_input_that_cannot_take_the_step_is_refused_not_passed(x, problem):
    """An integer x turns x + h into x + 0 or x - 1: every element would look like a kink and any
    gradient would pass. float32 loses most of the step. Both are refused with the fix."""
    with pytest.raises(ValueError) as raised:
        check_gradient("x", lambda x: float(np.sum(x.astype(np.float64) ** 2)), x, np.zeros(x.shape))
    assert str(raised.value) == (f"x: check_gradient needs x as a float64 array, {problem}: a step of h = 1e-05 is "
                                 f"lost in float32 and in integers. Pass x.astype(np.float64), and make the other "
                                 f"arrays f uses float64 too")


def test_a_function_that_computes_in_float32_is_refused():
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    with pytest.raises(ValueError, match=r"^dx: f returns float32 values: a step of h = 1e-05 is lost in them"):
        check_gradient("dx", lambda x: relu_forward(x.astype(np.float32))[0], x, np.ones((2, 3)), np.ones((2, 3)))


def test_a_loss_checked_without_dout_must_be_one_number():
    x = np.array([0.5, -0.25, 1.5])
    with pytest.raises(ValueError, match=r"^x: f returns an array of shape \(3,\): without dout, f must return one "):
        check_gradient("x", lambda x: x ** 2, x, 2 * x)


@pytest.mark.parametrize("x", [np.array(0.7), np.array([0.7])], ids=["0-d", "one element"])
def test_a_single_number_is_checked_whatever_its_shape(x):
    assert check_gradient("x", lambda x: x ** 3, x, 3 * x ** 2, verbose=False) == "correct"
    assert check_gradient("x", lambda x: x ** 3, x, 2 * x ** 2, verbose=False) == "wrong"


def test_a_confident_softmax_whose_gradient_is_tiny_is_correct():
    """Scores of 20 at the labels: the other classes' gradients are near 1e-9, where rounding in the
    numerical gradient (from the scores' size, not the tiny loss's) swamps them."""
    labels = np.array([0, 1, 2])
    scores = np.zeros((3, 4))
    scores[np.arange(3), labels] = 20.0
    assert check_gradient("dx", lambda s: softmax_loss(s, labels)[0], scores, softmax_loss(scores, labels)[1],
                          verbose=False) == "correct"
