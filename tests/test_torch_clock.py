"""The PyTorch run's clock: updates counted where they happen (follow_optimizer: gradient accumulation,
GradScaler's skipped steps, stray step() calls), token and sample counts, total="auto", lrdsl.steps
against torch's DataLoader and DistributedSampler, and ranks that agree (gloo, 2 processes). Every
learning rate is checked against ``lrdsl.compile(...)`` evaluated independently."""

import io
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.torch import ScheduleLR
from lrdsl.errors import UnitError
from test_bridge_torch import batches, make_model, on_two_ranks

ROUTES = r"lightning\.LRDSLCallback.*transformers\.LRDSLTrainer.*lrdsl\.steps\("


def lr_of(optimizer):
    return float(optimizer.param_groups[0]["lr"])


def record(optimizer, read=lr_of):
    """``read(optimizer)`` at every update that really runs, as it runs: a pre-step hook registered after
    the scheduler's, so nothing changes the optimizer between it and the update."""
    seen = []
    optimizer.register_step_pre_hook(lambda optimizer, args, kwargs: seen.append(read(optimizer)))
    return seen


# -- updates counted where they happen ------------------------------------------------------------


def test_follow_optimizer_counts_updates_under_gradient_accumulation():
    text = "warmup(5%) then cosine(end=1e-4)"
    micro, window = 398, 4  # 99 full windows and a last one of 2 batches: 100 updates
    total = lrdsl.steps(dataset_size=micro, batch_size=1, epochs=1, accumulate=window)["total"]
    assert total == 100
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scheduler = ScheduleLR(optimizer, text, total=total, follow_optimizer=True)
    x, y = batches(micro)
    used = record(optimizer)
    with pytest.warns(UserWarning, match="ignored") as caught:
        for i in range(micro):
            (torch.nn.functional.mse_loss(model(x[i]), y[i]) / window).backward()
            if (i + 1) % window == 0 or i + 1 == micro:
                optimizer.step()
                optimizer.zero_grad()
                scheduler.step()  # a stray call, out of habit: ignored, not a second step
    assert len(caught) == 1  # warned once
    expected = lrdsl.compile(text, base=0.05, total=total)
    assert used == [expected(k) for k in range(total)]
    assert used[:6] == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])  # 5% warmup: 5 of the 100 updates
    assert used[-1] == expected(99) and scheduler.last_epoch == 100


def test_a_step_the_grad_scaler_skipped_does_not_advance_the_schedule():
    text = "warmup(T=4) then exp(s=3, rate=0.5)"
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, text, follow_optimizer=True)
    scaler = torch.amp.GradScaler("cpu")
    x, y = batches(12)
    poisoned = {2, 5, 6}
    used, skipped = record(optimizer), []
    for i in range(12):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.mse_loss(model(x[i]), y[i])
        if i in poisoned:
            loss = loss * math.inf  # inf gradients: the scaler must skip optimizer.step()
        scale = scaler.get_scale()
        weights = [p.detach().clone() for p in model.parameters()]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        if scaler.get_scale() < scale:  # the scaler found inf gradients and backed off
            skipped.append(i)
            assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))  # really skipped
    assert skipped == sorted(poisoned)
    expected = lrdsl.compile(text, base=0.1)
    assert used == [expected(k) for k in range(9)] and scheduler.last_epoch == 9


def test_the_optimizer_keeps_a_following_scheduler_running():
    import gc

    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    ScheduleLR(optimizer, "warmup(T=4)", follow_optimizer=True)  # not kept: nothing else steps it
    gc.collect()
    used = record(optimizer)
    for _ in range(3):
        optimizer.step()
    assert used == pytest.approx([0.0, 0.025, 0.05])


def test_the_optimizer_factory_follows_the_optimizer_too():
    from lrdsl.bridges.torch import optimizer

    text = "sgd(lr=warmup(T=3, base=0.1) then cosine(T=6), momentum=linear(T=8, start=0.8, end=0.95))"
    opt, _ = optimizer(text, make_model().parameters(), follow_optimizer=True)
    reference = lrdsl.optim.parse_optimizer(text)
    seen = record(opt, lambda opt: (lr_of(opt), opt.param_groups[0]["momentum"]))
    for _ in range(9):
        opt.step()
    assert seen == [(reference.values(k)["lr"], reference.values(k)["momentum"]) for k in range(9)]


def test_explicit_stepping_stays_torchs_way():
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, "warmup(T=4)")
    optimizer.step()
    optimizer.step()  # two updates, one step(): the scheduler counts what it is told
    scheduler.step()
    assert scheduler.last_epoch == 1 and lr_of(optimizer) == pytest.approx(0.025)


# -- tokens and samples ---------------------------------------------------------------------------

TOKENS = "warmup(1000tok) then cosine(end=1e-5)"


def token_sizes(count, seed=3):
    return [int(n) for n in np.random.default_rng(seed).integers(100, 700, size=count)]


def test_step_with_tokens_reads_the_cumulative_count():
    sizes = token_sizes(60)  # the tokens of each update vary
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, TOKENS, total="20000tok")
    expected = lrdsl.compile(TOKENS, base=0.1, total="20000tok")
    seen = 0
    for n in sizes:
        assert lr_of(optimizer) == expected(tokens=seen)  # the k-th update: the tokens seen before it
        optimizer.step()
        scheduler.step(tokens=n)
        seen += n
    assert scheduler.tokens == seen == scheduler.state_dict()["tokens"] and scheduler.last_epoch == 60
    assert lr_of(optimizer) == expected(tokens=seen) == pytest.approx(1e-5)  # past 20000 tokens


def test_follow_optimizer_with_advance_per_micro_batch_and_resume():
    sizes = token_sizes(60, seed=4)  # 20 updates of 3 micro-batches
    expected = lrdsl.compile(TOKENS, base=0.1, total="20000tok")

    def run(optimizer, scheduler, start, stop, used):
        seen = record(optimizer)
        for k in range(start, stop):
            for n in sizes[3 * k : 3 * k + 3]:
                scheduler.advance(tokens=torch.tensor(n))  # a count may be a 0-d tensor
            optimizer.step()
        used += seen

    def fresh():
        optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
        return optimizer, ScheduleLR(optimizer, TOKENS, total="20000tok", follow_optimizer=True)

    used = []
    run(*fresh(), 0, 20, used)
    seen = np.concatenate([[0], np.cumsum(sizes)[2::3]])[:20]  # tokens before each update
    assert used == [expected(tokens=float(n)) for n in seen]

    optimizer, scheduler = fresh()
    resumed = []
    run(optimizer, scheduler, 0, 7, resumed)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)
    optimizer, scheduler = fresh()
    optimizer.load_state_dict(checkpoint["optimizer"])  # holds the lr of the next update
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert scheduler.tokens == sum(sizes[:21]) and scheduler.last_epoch == 7
    run(optimizer, scheduler, 7, 20, resumed)
    assert resumed == used


def test_an_iteration_schedule_is_read_by_tokens_once_fed():
    text = "warmup(T=10) then cosine(T=90)"
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, text)
    with pytest.raises(
        UnitError, match="counts iterations, but this ScheduleLR reads the tokens count.*tokens_per_step="
    ):
        scheduler.advance(tokens=512)
    assert scheduler.tokens is None and scheduler.state_dict()["tokens"] is None  # nothing changed
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, text, tokens_per_step=1024)
    expected = lrdsl.compile(text, base=0.1, tokens_per_step=1024)
    seen = 0
    for n in token_sizes(30, seed=5):  # not 1024 each: the lr follows the tokens, not the updates
        assert lr_of(optimizer) == expected(tokens=seen)
        optimizer.step()
        scheduler.step(tokens=n)
        seen += n
    assert lr_of(optimizer) != expected(30)


def test_samples_and_the_errors_of_counting():
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, "step(s=100sp, gamma=0.5)")
    for n in (60, 60, 60):
        optimizer.step()
        scheduler.step(samples=n)
    assert scheduler.samples == 180 and lr_of(optimizer) == 0.05
    with pytest.raises(BridgeError, match="no samples were counted for this update.*advance"):
        scheduler.step()  # an update without its samples
    with pytest.raises(lrdsl.LRDSLError, match="the tokens must be a finite number >= 0"):
        scheduler.advance(tokens=-1)
    with pytest.raises(BridgeError, match="follow_optimizer=True counts optimizer updates.*interval='step'"):
        ScheduleLR(optimizer, "step(s=2ep)", interval="epoch", follow_optimizer=True)
    with pytest.raises(BridgeError, match="check_ranks_every=0"):
        ScheduleLR(optimizer, "cosine(T=3)", check_ranks_every=0)
    with pytest.raises(BridgeError, match="reduce='sum'"):
        scheduler.report(1.0, reduce="sum")
    scheduler.check_ranks()  # without a process group: nothing to compare
    following = ScheduleLR(optimizer, TOKENS, total="5000tok", follow_optimizer=True)
    with pytest.raises(BridgeError, match="follow_optimizer=True.*advance"):
        following.step(tokens=10)
    with pytest.raises(BridgeError, match="no tokens were counted"):
        optimizer.step()  # the first update, and no tokens fed


# -- total="auto" -----------------------------------------------------------------------------------


def test_total_auto_waits_for_the_trainer_and_refuses_an_update_before():
    text = "warmup(10%) then cosine(end=0)"
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(lrdsl.LRDSLError, match="unexpected"):  # the string is parsed at once
        ScheduleLR(optimizer, "warmup(10%) then", total="auto")
    scheduler = ScheduleLR(optimizer, text, total="auto")
    assert scheduler.pending and lr_of(optimizer) == 0.1 and scheduler.schedules == {"lr": [None]}
    model(torch.ones(2, 4)).sum().backward()
    weights = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(lrdsl.LRDSLError, match="before the training length was known.*" + ROUTES):
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))  # refused before it ran
    with pytest.raises(lrdsl.LRDSLError, match=ROUTES):
        scheduler.step()
    scheduler.resolve_total(20)
    assert not scheduler.pending and lr_of(optimizer) == 0.0  # update 0's value, set at once
    expected = lrdsl.compile(text, base=0.1, total=20)
    used = []
    for _ in range(20):
        used.append(lr_of(optimizer))
        optimizer.step()
        scheduler.step()
    assert used == [expected(k) for k in range(20)]
    with pytest.raises(BridgeError, match="not 'auto'"):
        scheduler.resolve_total(30)


def test_a_total_of_auto_is_not_a_change_of_schedule():
    """A state saved before the total was known takes the scheduler's own total; a checkpoint loaded
    while the total is pending (a trainer restores it before it gives the total) is compared with
    the scheduler, under its on_change policy, once the total is known."""
    pending = ScheduleLR(torch.optim.SGD(make_model().parameters(), lr=0.1), "cosine()", total="auto").state_dict()
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    known = ScheduleLR(optimizer, "cosine()", total=10)
    known.load_state_dict(pending)
    assert not known.pending and known.state_dict()["total"] == 10
    optimizer.step()  # not refused

    saved = ScheduleLR(torch.optim.SGD(make_model().parameters(), lr=0.1), "cosine()", total=10)
    saved.step()
    saved.step()
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    waiting = ScheduleLR(optimizer, "cosine()", total="auto")
    waiting.load_state_dict(saved.state_dict())
    assert waiting.pending and waiting.last_epoch == 2
    waiting.resolve_total(10)  # the same run
    assert lr_of(optimizer) == pytest.approx(lrdsl.compile("cosine()", base=0.1, total=10)(2))

    longer = ScheduleLR(torch.optim.SGD(make_model().parameters(), lr=0.1), "cosine()", total="auto")
    longer.load_state_dict(saved.state_dict())
    with pytest.raises(lrdsl.LRDSLError, match=r"(?s)saved with another schedule.*total +saved: 10it +now: 20it"):
        longer.resolve_total(20)  # a longer run: a change, refused by default
    assert longer.pending  # and still waiting, nothing changed


# -- the state's new fields, strictly -------------------------------------------------------------


def test_the_state_holds_the_counts_and_refuses_bad_ones():
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, TOKENS, total="20000tok")
    for n in (300, 400):
        optimizer.step()
        scheduler.step(tokens=n)
    good = scheduler.state_dict()
    assert (good["tokens"], good["samples"], good["tokens_per_step"]) == (700.0, None, None)
    lr = lr_of(optimizer)
    old = {
        k: v
        for k, v in good.items()
        if k not in ("tokens", "samples", "tokens_per_step", "samples_per_step", "history")
    }
    bad = [
        ({**good, "tokens": -1}, BridgeError, r"'tokens' is -1 .*; expected None or a finite number >= 0"),
        ({**good, "tokens": "700"}, BridgeError, r"'tokens' is '700'"),
        ({**good, "tokens": math.nan}, BridgeError, r"'tokens' is nan"),
        ({**good, "samples": math.inf}, BridgeError, r"'samples' is inf"),
        ({**good, "tokens": True}, BridgeError, r"'tokens' is True"),
        ({k: v for k, v in good.items() if k != "tokens"}, BridgeError, "the state has no 'tokens'"),
        ({**good, "tokens_seen": 5}, BridgeError, "unknown key.*'tokens_seen'"),
        ({**old, "lrdsl_version": 1, "tokens": 700.0}, BridgeError, "unknown key.*'tokens'"),  # format 1 had none
        ({**good, "lrdsl_version": 4}, BridgeError, "not saved by lrdsl"),
        ({**good, "tokens_per_step": "x"}, BridgeError, r"'tokens_per_step' is 'x' .*; expected None, a finite number"),
        (
            {**good, "texts": {"lr": ["cosine(T=10)"]}, "total": None, "nodes": {"lr": [[]]}},
            UnitError,
            "load_state_dict.*counts iterations, but this ScheduleLR reads the tokens count",
        ),
    ]
    for state, error, match in bad:
        with pytest.raises(error, match=match):
            scheduler.load_state_dict(state)
        assert scheduler.state_dict() == good and lr_of(optimizer) == lr  # nothing changed
    scheduler.load_state_dict({**good, "tokens": 20000.0})
    assert scheduler.tokens == 20000.0
    optimizer.step()
    scheduler.step(tokens=1)
    assert lr_of(optimizer) == pytest.approx(1e-5)
    # a state of format 1 (before counts) still loads: no count fed
    plain = ScheduleLR(optimizer, "cosine(T=10)")
    state = {k: v for k, v in plain.state_dict().items() if k in old}
    plain.load_state_dict({**state, "lrdsl_version": 1, "last_epoch": 4})
    assert plain.tokens is None and plain.last_epoch == 4


# -- lrdsl.steps against torch's own objects --------------------------------------------------------


def test_steps_matches_the_data_loader_and_distributed_sampler():
    from torch.utils.data import DataLoader, DistributedSampler

    for size, batch, world, drop_last, window in itertools.product(
        (1, 7, 64, 1000), (1, 3, 32), (1, 2, 3), (False, True), (1, 4)
    ):
        data = range(size)
        lengths = {
            len(
                DataLoader(
                    data,
                    batch_size=batch,
                    drop_last=drop_last,
                    sampler=DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False),
                )
            )
            for rank in range(world)
        }
        (count,) = lengths  # every rank makes as many batches
        updates = sum(1 for i in range(1, count + 1) if i % window == 0 or i == count)  # the last window steps
        options = dict(dataset_size=size, batch_size=batch, epochs=2, accumulate=window, world_size=world)
        if count == 0:
            with pytest.raises(lrdsl.LRDSLError, match="no update"):
                lrdsl.steps(**options, drop_last=drop_last)
        else:
            assert lrdsl.steps(**options, drop_last=drop_last) == {"steps_per_epoch": updates, "total": 2 * updates}


# -- ranks that agree: torch.distributed, gloo, 2 processes -----------------------------------------

PLATEAU = "warmup(T=2) then plateau(factor=0.5, patience=0)"
# Each rank's own validation loss, per epoch. Their mean, [1.0, 1.0, 1.025, 0.95], cuts twice (after epochs 1
# and 2); alone, rank 0 would cut once (after epoch 3) and rank 1 twice (after epochs 1 and 2).
LOCAL_LOSSES = [[1.0, 0.9, 0.85, 0.97], [1.0, 1.1, 1.2, 0.93]]


def _epochs(rank, reduce):
    """4 epochs of 3 updates on this rank's data, reporting its local loss; the lr of every update and
    the check_ranks() message (None when the ranks agree)."""
    model = torch.nn.parallel.DistributedDataParallel(make_model())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = ScheduleLR(optimizer, PLATEAU, follow_optimizer=True)
    x, y = batches(12, seed=20 + rank)
    lrs = record(optimizer)
    for epoch in range(4):
        for k in range(3 * epoch, 3 * epoch + 3):
            torch.nn.functional.mse_loss(model(x[k]), y[k]).backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.report(torch.tensor(LOCAL_LOSSES[rank][epoch]), reduce=reduce)
    lrs.append(lr_of(optimizer))
    try:
        scheduler.check_ranks()
        return lrs, None
    except lrdsl.LRDSLError as error:
        return lrs, str(error)


def _ranks(rank, world):
    results = {reduce: _epochs(rank, reduce) for reduce in ("mean", "none")}
    optimizer = torch.optim.SGD(make_model().parameters(), lr=0.1)
    text = "cosine(T=10)" if rank == 0 else "cosine(T=12)"  # one rank given another string
    scheduler = ScheduleLR(optimizer, text, follow_optimizer=True, check_ranks_every=2)
    caught = []
    for k in range(4):
        try:
            optimizer.step()
        except lrdsl.LRDSLError as error:
            caught.append((k, str(error)))
            break
    results["string"] = caught, scheduler.last_epoch
    return results


@pytest.mark.slow
def test_ranks_that_see_different_losses_cut_together_and_disagreements_are_named(tmp_path):
    rank0, rank1 = on_two_ranks(_ranks, tmp_path)

    reference = lrdsl.compile(PLATEAU, base=0.1)  # the mean loss reported by hand
    expected = []
    for epoch in range(4):
        expected += [reference(k) for k in range(3 * epoch, 3 * epoch + 3)]
        reference.report(sum(losses[epoch] for losses in LOCAL_LOSSES) / 2)
    expected.append(reference(12))
    assert rank0["mean"] == (pytest.approx(expected, rel=1e-15), None) and rank1["mean"] == rank0["mean"]
    assert expected[6:] == pytest.approx([0.05] * 3 + [0.025] * 4)  # cuts after epochs 1 and 2

    lrs0, message0 = rank0["none"]  # each rank cut on its own loss: they diverged, and check_ranks says so
    lrs1, message1 = rank1["none"]
    assert lrs0 != lrs1 and message0 == message1
    assert message0.startswith("check_ranks(): rank(s) 1 disagree with rank(s) 0: values: rank 0 has")

    for caught, counted in (rank0["string"], rank1["string"]):  # found at update 2 (check_ranks_every=2)
        ((call, message),) = caught
        assert call == 1 and counted == 2
        assert "rank(s) 1 disagree with rank(s) 0: schedules: rank 0 has {'lr': ['cosine(T=10)']}" in message
        assert "rank 1 has {'lr': ['cosine(T=12)']}" in message
