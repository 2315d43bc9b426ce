"""The PyTorch bridge: ScheduleLR against lrdsl's own evaluator and torch's schedulers, live."""

import io
import os
import socket
import traceback
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.torch import ScheduleLR
from lrdsl.errors import EvaluationError, UnitError


def two_groups(lr0=0.05, lr1=0.5, **kwargs):
    """torch's reference fixture: SGD with a float-lr group and a tensor-lr group."""
    w0 = torch.nn.Parameter(torch.zeros(2))
    w1 = torch.nn.Parameter(torch.zeros(2))
    return torch.optim.SGD([{"params": [w0], "lr": lr0}, {"params": [w1], "lr": torch.tensor(lr1)}], **kwargs)


def run(optimizer, scheduler, steps):
    """The lr of every group before each step (the lr the k-th update uses), stepping as torch advises."""
    seen = []
    for _ in range(steps):
        seen.append([float(group["lr"]) for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    return np.array(seen)


@pytest.mark.parametrize(
    "text",
    [
        "warmup(T=4) then cosine(T=10, end=1e-3)",
        "step(base=0.1, s=3) then exp(s=5)",
        "0.5 * linear(T=8) + 0.1 * base",
    ],
)
def test_each_group_is_its_own_base(text):
    optimizer = two_groups()
    seen = run(optimizer, ScheduleLR(optimizer, text), 20)
    for index, base in enumerate((0.05, 0.5)):
        expected = lrdsl.compile(text, base=base).values(np.arange(20))
        np.testing.assert_allclose(seen[:, index], expected, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize(
    "text, make_peer",
    [
        ("cosine(T=10, end=1e-10)", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=1e-10)),
        ("step(s=3)", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1)),
        ("exp(s=1, rate=0.9)", lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
        ("warmup(T=4, start=0.5 * base)", lambda o: torch.optim.lr_scheduler.LinearLR(o, 0.5, 1.0, total_iters=4)),
        (
            "warmup(T=3, start=0.1 * base) then cosine(T=7)",
            lambda o: torch.optim.lr_scheduler.SequentialLR(
                o,
                [
                    torch.optim.lr_scheduler.LinearLR(o, 0.1, 1.0, total_iters=3),
                    torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7),
                ],
                milestones=[3],
            ),
        ),
    ],
)
def test_matches_torch_schedulers_live(text, make_peer):
    peer_optimizer = two_groups()
    peer = run(peer_optimizer, make_peer(peer_optimizer), 10)
    optimizer = two_groups()
    ours = run(optimizer, ScheduleLR(optimizer, text), 10)
    np.testing.assert_allclose(ours, peer, rtol=0, atol=1e-7)


def test_interval_epoch_and_steps_per_epoch():
    text = "warmup(T=2ep) then step(s=3ep, gamma=0.5)"
    by_epoch = two_groups()
    seen = run(by_epoch, ScheduleLR(by_epoch, text, interval="epoch"), 8)
    np.testing.assert_allclose(seen[:, 0], 0.05 * np.array([0, 0.5, 1, 1, 1, 0.5, 0.5, 0.5]), atol=1e-12)
    # The same string stepped per iteration, with 4 iterations per epoch.
    by_step = two_groups()
    per_step = run(by_step, ScheduleLR(by_step, text, steps_per_epoch=4), 32)
    np.testing.assert_allclose(per_step[::4, 0], seen[:, 0], atol=1e-12)
    assert per_step[1, 0] == pytest.approx(0.05 / 8)


def test_interval_epoch_with_an_iteration_schedule_names_the_fix():
    with pytest.raises(UnitError, match="steps_per_epoch"):
        ScheduleLR(two_groups(), "cosine(T=100)", interval="epoch")
    optimizer = two_groups()
    seen = run(optimizer, ScheduleLR(optimizer, "cosine(T=100)", interval="epoch", steps_per_epoch=50), 3)
    np.testing.assert_allclose(seen[:, 0], lrdsl.compile("cosine(T=100)", base=0.05).values([0, 50, 100]))


def test_bad_options_are_bridge_errors():
    with pytest.raises(BridgeError, match="interval"):
        ScheduleLR(two_groups(), "cosine(T=10)", interval="batch")
    with pytest.raises(BridgeError, match="no hyperparameter 'mometum'.*momentum"):
        ScheduleLR(two_groups(momentum=0.9), "cosine(T=10)", hyperparameters={"mometum": "linear(T=5)"})
    with pytest.raises(BridgeError, match="per param group"):
        ScheduleLR(two_groups(), ["cosine(T=10)"])
    with pytest.raises(BridgeError, match="not saved by lrdsl"):
        ScheduleLR(two_groups(), "cosine(T=10)").load_state_dict({"last_epoch": 3})
    with pytest.raises(lrdsl.LRDSLError, match="unknown"):
        ScheduleLR(two_groups(), "cosin(T=10)")


def test_per_group_strings_and_explicit_base():
    optimizer = two_groups()
    scheduler = ScheduleLR(optimizer, ["warmup(T=4, base=0.2)", None], base=1.0)
    seen = run(optimizer, scheduler, 6)
    np.testing.assert_allclose(seen[:, 0], [0, 0.05, 0.1, 0.15, 0.2, 0.2])
    np.testing.assert_allclose(seen[:, 1], 0.5)


def test_other_hyperparameters():
    w = torch.nn.Parameter(torch.zeros(3))
    sgd = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    ScheduleLR(sgd, None, hyperparameters={"momentum": "linear(T=4, end=0.5)"})
    assert sgd.param_groups[0]["momentum"] == pytest.approx(0.9)
    adam = torch.optim.Adam([w], lr=1e-3)
    scheduler = ScheduleLR(adam, "cosine(T=10)", hyperparameters={"betas[0]": "linear(T=5, start=0.95, end=0.85)"})
    betas = []
    for _ in range(6):
        betas.append(adam.param_groups[0]["betas"][0])
        assert isinstance(adam.param_groups[0]["betas"], tuple)
        adam.step()
        scheduler.step()
    np.testing.assert_allclose(betas, [0.95, 0.93, 0.91, 0.89, 0.87, 0.85])
    assert adam.param_groups[0]["betas"][1] == 0.999


def make_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def batches(count, seed=1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 16, 4, generator=generator)
    return x, 0.5 * x.sum(-1, keepdim=True)


def train(model, optimizer, scheduler, x, y, start, stop, lrs):
    for k in range(start, stop):
        lrs.append(optimizer.param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(model(x[k]), y[k])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    return loss.item()


TEXT = "warmup(T=5) then cosine(end=1e-4)"


def test_trains_a_model_on_the_cpu():
    x, y = batches(60)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.03)
    scheduler = ScheduleLR(optimizer, TEXT, total=60)

    def full_loss():
        with torch.no_grad():
            return torch.nn.functional.mse_loss(model(x), y).item()

    first = full_loss()
    lrs = []
    train(model, optimizer, scheduler, x, y, 0, 60, lrs)
    assert full_loss() < first / 10
    np.testing.assert_allclose(lrs, lrdsl.compile(TEXT, base=0.03, total=60).values(np.arange(60)), rtol=1e-12)


def test_checkpoint_resume_is_exact():
    x, y = batches(40)
    straight = make_model()
    opt = torch.optim.AdamW(straight.parameters(), lr=0.03)
    lrs_straight = []
    train(straight, opt, ScheduleLR(opt, TEXT, total=40), x, y, 0, 40, lrs_straight)

    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.03)
    scheduler = ScheduleLR(opt, TEXT, total=40)
    lrs = []
    train(model, opt, scheduler, x, y, 0, 17, lrs)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # plain data only

    resumed = make_model(seed=5)
    opt = torch.optim.AdamW(resumed.parameters(), lr=0.03)
    scheduler = ScheduleLR(opt, "constant()", on_change="checkpoint")  # the checkpoint's string wins, as in torch
    resumed.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["opt"])
    with pytest.warns(lrdsl.errors.ScheduleChangeWarning, match="ignores this scheduler's.*texts"):
        scheduler.load_state_dict(checkpoint["sched"])
    assert scheduler.schedules["lr"][0].expression == lrdsl.parse(TEXT).__str__()
    train(resumed, opt, scheduler, x, y, 17, 40, lrs)
    assert lrs == lrs_straight
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_plateau_state_resumes_and_matches_reduce_lr_on_plateau():
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7]
    peer_opt = two_groups()
    peer = torch.optim.lr_scheduler.ReduceLROnPlateau(peer_opt, factor=0.5, patience=2)
    expected = []
    for metric in metrics:
        peer.step(metric)
        expected.append([float(g["lr"]) for g in peer_opt.param_groups])

    text = "plateau(factor=0.5, patience=2)"
    optimizer = two_groups()
    scheduler = ScheduleLR(optimizer, text)
    got = []
    for number, metric in enumerate(metrics):
        if number == 6:  # checkpoint and resume in the middle
            state = scheduler.state_dict()
            buffer = io.BytesIO()
            torch.save(state, buffer)
            buffer.seek(0)
            optimizer = two_groups(lr0=expected[5][0], lr1=expected[5][1])
            for group, base in zip(optimizer.param_groups, (0.05, 0.5)):
                group["initial_lr"] = base
            scheduler = ScheduleLR(optimizer, text)
            scheduler.load_state_dict(torch.load(buffer, weights_only=True))
        optimizer.step()
        scheduler.step()
        scheduler.report(metric)
        got.append([float(g["lr"]) for g in optimizer.param_groups])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert scheduler.get_last_lr()[0] == pytest.approx(expected[-1][0])


def _bad_states(good):
    """Payloads that are not (or no longer) what ScheduleLR.state_dict() returned."""
    first = good["nodes"]["lr"][0][0]
    return [
        ({"lrdsl_version": 1}, BridgeError, "the state has no 'last_epoch'.*'texts'"),
        ({**good, "texts": None}, BridgeError, "'texts' is None .*; expected a table"),
        (
            {**good, "texts": {"momentum": good["texts"]["lr"]}},
            BridgeError,
            r"'texts' are for \['momentum'\], but this scheduler schedules \['lr'\]",
        ),
        (
            {**good, "texts": {"params": good["texts"]["lr"], "lr": good["texts"]["lr"]}},
            BridgeError,
            "a checkpoint sets only what the scheduler was built to schedule",
        ),
        (
            {**good, "texts": {"lr": ["plateau()"]}},
            BridgeError,
            r"'texts'\['lr'\] is a list of 1 item\(s\); expected a list of 2",
        ),
        ({**good, "texts": {"lr": [3, None]}}, BridgeError, r"'texts'\['lr'\]\[0\] is 3 .*; expected None or a string"),
        (
            {**good, "bases": {"lr": ["x", 0.5]}},
            BridgeError,
            r"'bases'\['lr'\]\[0\] is 'x' .*; expected a finite number",
        ),
        (
            {**good, "bases": {"lr": [10**400, 0.5]}},
            BridgeError,
            r"'bases'\['lr'\]\[0\] is .*; expected a finite number",
        ),
        ({**good, "nodes": {"lr": [None, None]}}, BridgeError, "metric-driven node does not fit"),
        # the first group's node state is fine (and differs), the second's is not: nothing may be half-loaded
        (
            {**good, "nodes": {"lr": [[{**first, "reductions": 3}], [{"node": "plateau"}]]}},
            BridgeError,
            "metric-driven node does not fit",
        ),
        ({**good, "interval": "batch"}, BridgeError, "'interval' is 'batch' .*; expected one of 'step', 'epoch'"),
        ({**good, "last_epoch": "3"}, BridgeError, "'last_epoch' is '3' .*; expected a whole number"),
        ({**good, "_last_lr": None}, BridgeError, "'_last_lr' is None .*; expected a list of 2 item"),
        ({**good, "variables": [1]}, BridgeError, "'variables'"),
        ({**good, "texts": {"lr": ["cosin(T=3)", None]}}, lrdsl.LRDSLError, "load_state_dict.*'cosin'"),
        (
            {**good, "interval": "epoch", "texts": {"lr": ["cosine(T=3)", None]}, "nodes": {"lr": [[], None]}},
            UnitError,
            "load_state_dict.*interval='epoch'",
        ),
    ]


def test_load_state_dict_refuses_bad_payloads_and_changes_nothing():
    optimizer = two_groups()
    scheduler = ScheduleLR(optimizer, "plateau(factor=0.5, patience=0)")
    for metric in (1.0, 2.0, 3.0):
        optimizer.step()
        scheduler.step()
        scheduler.report(metric)
    good = scheduler.state_dict()
    assert good["nodes"]["lr"][0][0]["reductions"] == 2  # a state worth keeping
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    schedules = scheduler.schedules
    for bad, error, match in _bad_states(good):
        with pytest.raises(error, match=match):
            scheduler.load_state_dict(bad)
        assert scheduler.state_dict() == good
        assert scheduler.schedules is schedules and scheduler.interval == "step"
        assert [float(g["lr"]) for g in optimizer.param_groups] == lrs
    scheduler.report(4.0)  # still the same scheduler: a third reduction
    assert scheduler.get_last_lr() == [pytest.approx(lrs[0] / 2), pytest.approx(lrs[1] / 2)]


def test_lightning_dict_shape():
    optimizer = two_groups()
    scheduler = ScheduleLR(optimizer, TEXT, total=100)
    config = {"optimizer": optimizer, "lr_scheduler": scheduler.lightning_config()}
    assert config["lr_scheduler"] == {"scheduler": scheduler, "interval": "step", "frequency": 1}
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)


def _fit_with_lightning(tmp_path, configure, data, epochs, validate=False):
    """Train a small model with a real Lightning Trainer; the lr seen at every training step."""
    lightning = pytest.importorskip("lightning")

    class Module(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = make_model()
            self.lrs = []

        def training_step(self, batch, index):
            self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def validation_step(self, batch, index):
            self.log("val_loss", torch.tensor(1.0))  # never improves: every report after the first cuts

        def configure_optimizers(self):
            return configure(torch.optim.SGD(self.parameters(), lr=0.1))

    module = Module()
    loader = torch.utils.data.DataLoader(list(zip(*data)), batch_size=None)
    trainer = lightning.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if validate else 0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, loader, loader if validate else None)
    return module.lrs


@pytest.mark.slow
def test_lightning_trainer_steps_it_per_batch(tmp_path):
    text = "warmup(T=4) then exp(s=4, rate=0.5)"
    lrs = _fit_with_lightning(
        tmp_path,
        lambda optimizer: {"optimizer": optimizer, "lr_scheduler": ScheduleLR(optimizer, text).lightning_config()},
        batches(12, seed=3),
        epochs=2,
    )
    np.testing.assert_allclose(lrs, lrdsl.compile(text, base=0.1).values(np.arange(24)), rtol=1e-12)


@pytest.mark.slow
def test_lightning_reports_the_monitored_metric_to_plateau(tmp_path):
    def configure(optimizer):
        scheduler = ScheduleLR(optimizer, "warmup(T=2) then plateau(factor=0.5, patience=0)")
        return [optimizer], [scheduler.lightning_config(), scheduler.lightning_report_config("val_loss")]

    lrs = _fit_with_lightning(tmp_path, configure, batches(4, seed=4), epochs=3, validate=True)
    assert lrs == pytest.approx([0.0, 0.05, 0.1, 0.1] + [0.1] * 4 + [0.05] * 4)


# -- torch.distributed: 2 processes, gloo, localhost ----------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gloo_worker(rank, world, port, out, work):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        gathered = [None] * world
        dist.all_gather_object(gathered, work(rank, world))
        if rank == 0:
            torch.save(gathered, out)
        dist.barrier()  # neither rank leaves while the other still uses the group
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    # Leave at once: gloo's threads can abort the interpreter's teardown ("terminate called without
    # an active exception") after the results are saved, failing a run that passed.
    os._exit(0)


def on_two_ranks(work, tmp_path):
    """``work(rank, world)`` (a module-level function) on 2 processes of a gloo process group on
    localhost: the result of every rank (plain data)."""
    out = os.fspath(tmp_path / "ranks.pt")
    torch.multiprocessing.spawn(_gloo_worker, args=(2, _free_port(), out, work), nprocs=2, join=True)
    return torch.load(out)


def _plateau_on_a_rank(rank, world):
    import torch.distributed as dist

    model = torch.nn.parallel.DistributedDataParallel(make_model())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = ScheduleLR(optimizer, "warmup(T=3) then plateau(factor=0.5, patience=1)")
    x, y = batches(12, seed=10 + rank)  # each rank sees its own data
    lrs = []
    for start in range(0, 12, 3):
        loss = train(model, optimizer, scheduler, x, y, start, start + 3, lrs)
        metric = torch.tensor(loss)  # report the all-reduced loss, so every rank sees the same metric
        dist.all_reduce(metric)
        scheduler.report(1.0 if start < 9 else metric / world)
    return lrs


@pytest.mark.slow
def test_distributed_gloo_every_rank_computes_the_same_rates(tmp_path):
    rank0, rank1 = on_two_ranks(_plateau_on_a_rank, tmp_path)
    assert rank0 == rank1
    assert rank0[:4] == pytest.approx([0.0, 0.1 / 3, 0.2 / 3, 0.1])
    # Three equal reports (after iterations 2, 5, 8) exceed patience=1: the rate halves from iteration 9.
    assert rank0[4:9] == pytest.approx([0.1] * 5) and rank0[9:] == pytest.approx([0.05] * 3)


# -- the optimizer factory -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "adamw(lr=warmup(T=3, base=0.01) then exp(s=10, rate=0.5), weight_decay=0.05)",
        "adam(lr=cosine(T=15, base=0.01), betas=(0.95 - 0.1 * cosine(T=10), 0.999), weight_decay=0.01)",
        "sgd(lr=warmup(T=2, base=0.1) then cosine(T=12), momentum=linear(T=10, start=0.8, end=0.95), nesterov=true)",
        "rmsprop(lr=0.01, momentum=0.5, weight_decay=linear(T=8, start=0.1, end=0))",
        "nadam(lr=step(s=4, base=0.01, gamma=0.5))",
    ],
)
def test_factory_matches_the_numpy_optimizer(text):
    from lrdsl.bridges.torch import optimizer

    rng = np.random.default_rng(0)
    grads = rng.normal(size=(15, 2, 3))
    arrays = [np.linspace(-1, 1, 3), np.linspace(1, 2, 3)]
    groups = [
        {"params": [arrays[0]]},
        {"params": [arrays[1]], "lr": "0.5 * cosine(T=15, base=0.02)", "weight_decay": 0},
    ]
    reference = lrdsl.optimizer(text, groups)
    tensors = [torch.nn.Parameter(torch.tensor(a, dtype=torch.float64)) for a in arrays]
    opt, sched = optimizer(text, [{"params": [tensors[0]]}, {**groups[1], "params": [tensors[1]]}])
    for g in grads:
        for tensor, grad in zip(tensors, g):
            tensor.grad = torch.tensor(grad)
        opt.step()
        sched.step()
        reference.step([g[0].copy(), g[1].copy()])
    for tensor, array in zip(tensors, arrays):
        np.testing.assert_allclose(tensor.detach().numpy(), array, rtol=1e-8, atol=1e-12)  # float64 rounding


def test_factory_parts_and_errors():
    from lrdsl.bridges.torch import TorchOptimizer, optimizer

    model = torch.nn.Linear(3, 1)
    built = optimizer(
        "adamw(lr=warmup(10%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)", model.parameters(), total=100
    )
    assert isinstance(built, TorchOptimizer) and isinstance(built.optimizer, torch.optim.AdamW)
    assert built.optimizer.param_groups[0]["weight_decay"] == 0.05
    assert built.lightning() == {
        "optimizer": built.optimizer,
        "lr_scheduler": {"scheduler": built.scheduler, "interval": "step", "frequency": 1},
    }
    opt, sched = optimizer("sgd(lr=0.1)", model.parameters())
    assert opt.param_groups[0]["lr"] == 0.1 and sched.schedules == {"lr": [None]}
    with pytest.raises(BridgeError, match="'lion' has no counterpart in torch.optim.*adamw.*sgd"):
        optimizer("lion(lr=1e-4)", model.parameters())
    with pytest.raises(lrdsl.LRDSLError, match="parameter group 1.*momentm"):
        optimizer("sgd(lr=0.1)", [{"params": [model.weight]}, {"params": [model.bias], "momentm": 0.9}])


@pytest.mark.parametrize(
    "params, match",
    [
        ([], "params is empty"),
        (iter(()), "params is empty"),
        (torch.nn.Linear(1, 1, bias=False).weight, "params is one Parameter; expected.*iterable of tensors"),
        ({"params": []}, "params is one dict"),
        (3, r"params \(int\) is not iterable"),
        ([np.zeros(2)], "torch.optim.Adam refused the parameters.*Tensors"),
    ],
)
def test_factory_refuses_params_torch_cannot_optimize(params, match):
    from lrdsl.bridges.torch import optimizer

    with pytest.raises(BridgeError, match=match):
        optimizer("adam()", params)


def test_factory_empty_generator_names_the_likely_cause():
    from lrdsl.bridges.torch import optimizer

    model = torch.nn.Linear(3, 1)
    parameters = model.parameters()
    torch.optim.SGD(parameters, lr=0.1)  # the generator is used up
    with pytest.raises(BridgeError, match="can be used only once"):
        optimizer("sgd(lr=0.1)", parameters)


def test_a_tensor_learning_rate_is_filled_in_place_at_every_step():
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = torch.optim.Adam(params, lr=torch.tensor(0.01))
    lr = optimizer.param_groups[0]["lr"]
    scheduler = ScheduleLR(optimizer, "warmup(T=4) then cosine(T=6)", total=10)
    expected = lrdsl.compile("warmup(T=4) then cosine(T=6)", base=0.01, total=10)
    for k in range(1, 8):
        optimizer.step()
        scheduler.step()
        assert optimizer.param_groups[0]["lr"] is lr  # the same tensor, filled
        assert float(lr) == pytest.approx(expected(k), rel=1e-6)
        assert scheduler.get_last_lr()[0] is not lr and float(scheduler.get_last_lr()[0]) == float(lr)


def test_groups_with_one_schedule_share_it_and_keep_their_own_values():
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1} for _ in range(6)]
    groups.append({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5})
    optimizer = torch.optim.SGD(groups, lr=0.1)
    scheduler = ScheduleLR(optimizer, "warmup(T=3) then cosine(T=7)")
    same = lrdsl.compile("warmup(T=3) then cosine(T=7)", base=0.1)
    other = lrdsl.compile("warmup(T=3) then cosine(T=7)", base=0.5)
    for k in range(1, 10):
        optimizer.step()
        scheduler.step()
        assert [g["lr"] for g in optimizer.param_groups] == [same(k)] * 6 + [other(k)]
    scheduler.amend("constant()")  # every group's schedule is at the counter, shared or not
    assert {s.expression for s in scheduler.schedules["lr"][:6]} == {scheduler.schedules["lr"][0].expression}
    assert "for 9 then constant()" in scheduler.schedules["lr"][6].expression


def test_a_step_reads_the_curve_as_the_schedule_would_and_raises_its_error():
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in (1.0, 2.0)]
    optimizer = torch.optim.SGD(groups, lr=1.0, momentum=0.9)
    text = "1 - linear(T=4, start=0, end=2)"
    scheduler = ScheduleLR(optimizer, text, hyperparameters={"momentum": "0.9 - 0.1 * linear(T=4)"})
    expected = [lrdsl.compile(text, base=lr) for lr in (1.0, 2.0)]
    momentum = lrdsl.compile("0.9 - 0.1 * linear(T=4)", base=0.9)
    for k in (1, 2):
        optimizer.step()
        scheduler.step()
        assert [g["lr"] for g in optimizer.param_groups] == [s(k) for s in expected]
        assert all(type(g["lr"]) is float for g in optimizer.param_groups)
        assert [g["momentum"] for g in optimizer.param_groups] == [momentum(k)] * 2
        assert [s.position for s in scheduler.schedules["lr"]] == [float(k)] * 2
    optimizer.step()
    with pytest.raises(EvaluationError, match="gives -0.5 at iteration 3"):
        scheduler.step()  # the value the curve gives is refused as the schedule refuses it


def _sgd(groups=2):
    params = [{"params": [torch.nn.Parameter(torch.ones(2))], "lr": 0.1} for _ in range(groups)]
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def _lrs(optimizer):
    return [(g["lr"], g["momentum"]) for g in optimizer.param_groups]


def test_an_update_whose_values_fail_changes_nothing():
    optimizer = _sgd()
    scheduler = ScheduleLR(optimizer, "cosine(T=10)", tokens_per_step=1e-300)
    before, values = scheduler.state_dict(), _lrs(optimizer)
    with pytest.raises(lrdsl.LRDSLError):
        scheduler.step(tokens=1e10)  # iteration 1e310: past what the clock can read
    assert scheduler.state_dict() == before and _lrs(optimizer) == values
    scheduler.step(tokens=1e-290)
    assert scheduler.last_epoch == 1 and scheduler.tokens == 1e-290

    optimizer = _sgd()
    text = "1 - linear(T=4, start=0, end=2)"
    scheduler = ScheduleLR(optimizer, text, hyperparameters={"momentum": "0.9 - 0.1 * linear(T=4)"})
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    before, values, last = scheduler.state_dict(), _lrs(optimizer), scheduler.get_last_lr()
    with pytest.raises(EvaluationError, match="gives -0.5 at iteration 3"):
        scheduler.step()  # the per-step path: every value evaluated before anything moves
    assert scheduler.state_dict() == before and _lrs(optimizer) == values
    with pytest.warns(UserWarning), pytest.raises(EvaluationError, match="gives -0.5 at iteration 3"):
        scheduler.step(3)  # torch's own step(epoch), undone
    assert scheduler.state_dict() == before and _lrs(optimizer) == values and scheduler.get_last_lr() == last


def test_a_refused_step_with_counts_changes_no_count():
    optimizer = _sgd(1)
    scheduler = ScheduleLR(optimizer, "warmup(T=100tok) then cosine(T=2000tok)", total="3000tok")
    scheduler.step(tokens=150)
    scheduler.advance(samples=10)  # from now on every update needs samples too
    scheduler.step(tokens=150)
    before = scheduler.state_dict()
    with pytest.raises(BridgeError, match="no samples were counted"):
        scheduler.step(tokens=150)
    assert scheduler.state_dict() == before


def test_a_following_scheduler_refuses_an_unfed_update_before_the_optimizer_runs():
    optimizer = _sgd(1)
    scheduler = ScheduleLR(optimizer, "cosine(T=100)", tokens_per_step=10, follow_optimizer=True)
    weights = optimizer.param_groups[0]["params"][0]
    weights.grad = torch.ones(2)
    scheduler.advance(tokens=10)
    optimizer.step()
    kept = weights.detach().clone()
    with pytest.raises(BridgeError, match="no tokens were counted"):
        optimizer.step()
    assert torch.equal(weights.detach(), kept) and scheduler.last_epoch == 1


def _stepped(text, steps):
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = ScheduleLR(optimizer, text)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def test_an_amendment_that_fails_at_the_counter_leaves_the_old_schedule_installed():
    """amend() whose new text has no value at the counter (1 / 0 there) raises and changes nothing:
    the old text stays in the state, the next step follows it, and a later amend still works."""
    optimizer, scheduler = _stepped("cosine(T=100, base=0.1)", 3)
    before = scheduler.state_dict()
    with pytest.raises(EvaluationError):
        scheduler.amend("1 / linear(T=10, start=0, end=1)")
    assert repr(scheduler.state_dict()) == repr(before)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == lrdsl.compile("cosine(T=100, base=0.1)")(4)
    scheduler.amend("constant()")
    assert "then constant()" in scheduler.state_dict()["texts"]["lr"][0]


def test_a_report_whose_values_fail_changes_no_node():
    """A report the plateau takes, but after which the schedule's value is not finite (0.001 / 0),
    raises and leaves the plateau as it was (no reduction counted) and the lr as it was."""
    optimizer, scheduler = _stepped("0.001 / plateau(factor=0, patience=0, min=0, eps=0)", 1)
    scheduler.report(1.0)
    before, lr = scheduler.state_dict(), optimizer.param_groups[0]["lr"]
    with pytest.raises(EvaluationError):
        scheduler.report(2.0)
    assert repr(scheduler.state_dict()) == repr(before)
    assert optimizer.param_groups[0]["lr"] == lr


class _Unreadable(dict):
    """A table whose item access raises (a crafted checkpoint object)."""

    def __getitem__(self, key):
        raise RuntimeError("unreadable")

    def items(self):
        raise RuntimeError("unreadable")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda state: {**state, "_last_lr": [torch.empty(1, device="meta")]},
        lambda state: {**state, "_last_lr": [torch.tensor([0.1]).to_sparse()]},
        lambda state: {**state, "variables": _Unreadable(a=1)},
    ],
    ids=["meta tensor", "sparse tensor", "unreadable variables"],
)
def test_a_state_with_parts_that_cannot_be_read_is_an_lrdsl_error(tamper):
    """A meta or sparse tensor as a saved lr raised torch's RuntimeError / NotImplementedError, and a
    nested table whose methods raise its own error: each is an LRDSLError, and nothing changes."""
    _, scheduler = _stepped("cosine(T=100, base=0.1)", 3)
    state = scheduler.state_dict()
    with pytest.raises(lrdsl.LRDSLError):
        scheduler.load_state_dict(tamper(state))
    assert repr(scheduler.state_dict()) == repr(state)
