"""The built-in optimizers' staged step (lrdsl.optim.staged): checked block by block before anything is
written, the same values in blocks as in one piece, and memory of PyTorch's state plus block temporaries."""

import pickle

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import EvaluationError
from lrdsl.optim.staged import BLOCK_BYTES, MOST_TEMPS

ALL = ["sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax", "nadam", "radam", "lion"]
SIZE = 3 * BLOCK_BYTES // 4 + 5  # float32: three full blocks and a short one
TEXTS = [
    "sgd(lr=0.1, momentum=0.9, nesterov=true, weight_decay=0.1)",
    "sgd(lr=0.1, momentum=0.9, dampening=0.2)",
    "adagrad(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)",
    "rmsprop(lr=0.01, centered=true, momentum=0.5, weight_decay=0.1)",
    "rmsprop(lr=0.01)",
    "adadelta(weight_decay=0.1)",
    "adam(lr=0.01, weight_decay=0.1, amsgrad=true)",
    "adamw(lr=0.01)",
    "adamax(lr=0.01, weight_decay=0.1)",
    "nadam(lr=0.01, weight_decay=0.1)",
    "radam(lr=0.01, weight_decay=0.1)",
    "lion(lr=0.01, weight_decay=0.1)",
]


def test_every_built_in_rule_is_covered():
    assert sorted({text.split("(")[0] for text in TEXTS}) == sorted(ALL)


@pytest.mark.parametrize("text", TEXTS)
def test_blocks_give_the_values_of_one_piece(text):
    """A contiguous parameter runs in blocks; a transposed view of the same values in one piece."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, SIZE // 5), dtype=np.float32)
    flat = start.copy()
    transposed = np.asfortranarray(start)  # the same values, column-major: not C-contiguous
    assert not transposed.flags.c_contiguous
    one, other = lrdsl.optimizer(text, [flat]), lrdsl.optimizer(text, [transposed])
    for _ in range(4):
        grad = rng.standard_normal(start.shape, dtype=np.float32)
        one.step([grad])
        other.step([grad])
    assert flat.tobytes() == np.ascontiguousarray(transposed).tobytes()
    for name, value in one.state_dict()["params"][0]["entries"].items():
        theirs = other.state_dict()["params"][0]["entries"][name]
        assert np.array_equal(value, theirs) if isinstance(value, np.ndarray) else value == theirs


# Each case fails in the last block only (the blocks before it are fine): (text, the last parameter
# value, the last gradient value, where the error says the non-finite value is). A gradient of 1e20
# overflows g² in float32; the moving averages (v − g²)·β + g² then give ∞ − ∞ = NaN, which reaches the
# parameter, except where the update does not read v (adagrad's plain sum, radam's first steps).
FAILING = [
    ("sgd(lr=1e30, momentum=0.9)", 1.0, 1e10, "parameter"),
    ("adagrad(lr=0.1)", 1.0, 1e20, "the optimizer state 'sum'"),
    ("rmsprop(lr=0.01)", 1.0, 1e20, "parameter"),
    ("adadelta()", 1.0, 1e20, "parameter"),
    ("adam(lr=0.01)", 1.0, 1e20, "parameter"),
    ("adamw(lr=0.01)", 1.0, 1e20, "parameter"),
    ("adamax(lr=0.01, eps=0)", 1.0, 0.0, "parameter"),
    ("nadam(lr=0.01)", 1.0, 1e20, "parameter"),
    ("radam(lr=0.01)", 1.0, 1e20, "the optimizer state 'exp_avg_sq'"),
    ("lion(lr=1e-4, weight_decay=10)", 3e38, 1.0, "parameter"),
]


def _everything(opt, params):
    return [p.tobytes() for p in params], opt.iteration, pickle.dumps(opt.state_dict()["params"])


@pytest.mark.parametrize("text,last_param,last_grad,where", FAILING)
def test_a_failing_last_block_leaves_parameters_and_state_unchanged(text, last_param, last_grad, where):
    assert {case[0].split("(")[0] for case in FAILING} == set(ALL)
    rng = np.random.default_rng(1)
    params = [rng.uniform(0.5, 1.0, 7).astype(np.float32), rng.uniform(0.5, 1.0, SIZE).astype(np.float32)]
    params[1][-1] = last_param
    opt = lrdsl.optimizer(text, params)
    opt.step([np.full(7, 0.5, dtype=np.float32), None])  # the big parameter has no state yet
    before = _everything(opt, params)
    grads = [np.full(7, 0.5, dtype=np.float32), rng.uniform(0.5, 1.0, SIZE).astype(np.float32)]
    grads[1][-1] = last_grad
    with pytest.raises(EvaluationError, match=f"in {where}") as caught:
        opt.step(grads)
    assert "params[1] at step 1; the step was undone" in str(caught.value)
    assert _everything(opt, params) == before
    assert opt.state_dict()["params"][1] == {"step": 0, "entries": {}}


@pytest.mark.parametrize("text", TEXTS)
def test_memory_is_torchs_state_and_block_temporaries(text):
    """Optimizer.nbytes: the state torch keeps and one scratch buffer no larger than the parameters
    (a rule that computes its new parameters again keeps only block temporaries)."""
    torch = pytest.importorskip("torch")
    from lrdsl.bridges.torch import optimizer as torch_optimizer

    size = 4 * SIZE
    param = np.ones(size, dtype=np.float32)
    opt = lrdsl.optimizer(text, [param])
    opt.step([np.full(size, 0.5, dtype=np.float32)])
    tensor = torch.ones(size, dtype=torch.float32, requires_grad=True)
    peer = torch_optimizer(text, [tensor]).optimizer if not text.startswith("lion") else None
    if peer is not None:
        tensor.grad = torch.full((size,), 0.5)
        peer.step()
        kept = sum(v.nbytes for state in peer.state.values() for v in state.values() if v.dim() > 0)
    else:  # no torch.optim.Lion: Lion keeps one momentum
        kept = param.nbytes
    scratch = opt._buffers.nbytes
    assert 0 < scratch <= param.nbytes
    assert opt.nbytes - scratch <= kept
    if text.startswith(("sgd", "adadelta")):  # staged(recompute=True): the temporaries alone
        assert scratch <= MOST_TEMPS * BLOCK_BYTES < param.nbytes


@pytest.mark.parametrize("sizes", [[40_000], [300_000], [3_000_000], [SIZE, 7, 2 * SIZE]])
@pytest.mark.parametrize("text", ["adam(lr=0.01, amsgrad=true)", "sgd(lr=0.1, momentum=0.9)"])
def test_the_scratch_buffer_is_never_larger_than_the_parameters(sizes, text):
    """The most temporaries a sweep uses (AMSGrad: three kept arrays) and the result slots share one
    buffer per dtype, no larger than the parameters together; the values are those of one piece."""
    rng = np.random.default_rng(1)
    params = [rng.standard_normal(size, dtype=np.float32) for size in sizes]
    alone = [p.copy() for p in params]  # the same values, each with an optimizer of its own
    opt = lrdsl.optimizer(text, params)
    singles = [lrdsl.optimizer(text, [p]) for p in alone]
    for _ in range(3):
        grads = [rng.standard_normal(size, dtype=np.float32) for size in sizes]
        opt.step(grads)
        for single, grad in zip(singles, grads):
            single.step([grad])
    assert all(p.tobytes() == q.tobytes() for p, q in zip(params, alone))
    total = sum(p.nbytes for p in params)
    assert 0 < opt._buffers.nbytes <= total
    arrays = 3 if text.startswith("adam") else 1  # exp_avg, exp_avg_sq, max_exp_avg_sq; momentum_buffer
    assert opt.nbytes - opt._buffers.nbytes == arrays * total
