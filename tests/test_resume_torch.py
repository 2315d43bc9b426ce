"""ScheduleLR resumed from a checkpoint of another schedule (each on_change policy), and amended
while it runs; in plain PyTorch and through a Lightning ``ckpt_path`` resume. Every learning rate
is checked against ``lrdsl.compile`` of the string written out by hand."""

import io
import warnings

import pytest

torch = pytest.importorskip("torch")

import lrdsl
from lrdsl.bridges.torch import ScheduleLR
from lrdsl.errors import ScheduleChangeWarning

TEXT = "warmup(T=5) then cosine(end=1e-3)"
BASE = 0.1


def make_optimizer(groups=1):
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]} for _ in range(groups)], lr=BASE)


def lrs(optimizer, scheduler, updates):
    """The lr of each of ``updates`` updates, read before it runs."""
    seen = []
    for _ in range(updates):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return seen


def checkpoint_at(updates, total=20, text=TEXT):
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, text, total=total)
    lrs(optimizer, scheduler, updates)
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def expected(text, total, points):
    sched = lrdsl.compile(text, base=BASE, total=total)
    return [sched(k) for k in points]


def test_error_is_the_default_and_shows_the_change():
    state = checkpoint_at(10)
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, TEXT, total=40)
    before = scheduler.state_dict()
    with pytest.raises(lrdsl.LRDSLError, match=r"(?s)total +saved: 20it +now: 40it.*'continue'.*'smooth'"):
        scheduler.load_state_dict(state)
    assert scheduler.state_dict() == before and optimizer.param_groups[0]["lr"] == 0.0  # nothing changed


def test_continue_keeps_the_position_and_runs_the_new_schedule():
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, TEXT, total=40, on_change="continue")
    with pytest.warns(ScheduleChangeWarning, match="the value jumps from"):
        scheduler.load_state_dict(checkpoint_at(10))
    assert scheduler.last_epoch == 10
    assert lrs(optimizer, scheduler, 30) == expected(TEXT, 40, range(10, 40))


def test_smooth_continues_from_the_old_value():
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, TEXT, total=40, on_change="smooth")
    with pytest.warns(ScheduleChangeWarning, match="keeps the position and the value"):
        scheduler.load_state_dict(checkpoint_at(10))
    by_hand = "(warmup(T=5) then cosine(end=1e-3) for 15) for 10 then cosine(end=1e-3)"
    seen = lrs(optimizer, scheduler, 30)
    assert seen == expected(by_hand, 40, range(10, 40))
    assert seen[0] == expected(TEXT, 20, [10])[0]  # no jump
    assert scheduler.state_dict()["history"]["lr"][0][-1]["policy"] == "smooth"
    again = ScheduleLR(make_optimizer(), TEXT, total=40)  # the smoothed run's checkpoint resumes as it is
    with pytest.raises(lrdsl.LRDSLError, match="saved with another schedule"):
        again.load_state_dict(scheduler.state_dict())


def test_checkpoint_takes_the_saved_schedule_with_a_warning():
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, "constant()", total=40, on_change="checkpoint")
    with pytest.warns(ScheduleChangeWarning, match=r"ignores this scheduler's \(texts: .*total: saved 20, now 40"):
        scheduler.load_state_dict(checkpoint_at(10))
    assert lrs(optimizer, scheduler, 10) == expected(TEXT, 20, range(10, 20))


def test_an_unchanged_checkpoint_resumes_exactly_under_every_policy():
    for policy in ("error", "continue", "smooth", "checkpoint"):
        optimizer = make_optimizer()
        scheduler = ScheduleLR(optimizer, TEXT, total=20, on_change=policy)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no change: no warning
            scheduler.load_state_dict(checkpoint_at(7))
        assert lrs(optimizer, scheduler, 13) == expected(TEXT, 20, range(7, 20))


def test_a_group_scheduled_in_one_and_not_the_other_is_a_change():
    optimizer = torch.optim.SGD([{"params": [torch.zeros(1)]}, {"params": [torch.zeros(1)]}], lr=BASE)
    saved = ScheduleLR(optimizer, [TEXT, None], total=20).state_dict()
    with pytest.raises(lrdsl.LRDSLError, match=r"param group 1\): saved not scheduled, now 'warmup"):
        ScheduleLR(make_optimizer(2), TEXT, total=20).load_state_dict(saved)


def test_amend_installs_warmup_stable_decay_from_any_update():
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, "warmup(T=2) then constant()", total=100)
    seen = lrs(optimizer, scheduler, 50)
    amended = scheduler.amend("linear(end=0)", total=60)
    assert [s.expression for s in amended] == [scheduler.schedules["lr"][0].expression]
    seen += lrs(optimizer, scheduler, 10)
    by_hand = "(warmup(T=2) then constant() for 98) for 50 then linear(end=0)"
    assert seen == expected(by_hand, 60, range(60))
    state = scheduler.state_dict()
    assert state["total"] == 60 and [e["text"] for e in state["history"]["lr"][0]] == ["linear(end=0)"]

    resumed_optimizer = make_optimizer()  # the run's own config, with the saved (amended) schedule
    resumed = ScheduleLR(resumed_optimizer, "warmup(T=2) then constant()", total=100, on_change="checkpoint")
    with pytest.warns(ScheduleChangeWarning):
        resumed.load_state_dict(state)
    assert resumed.schedules["lr"][0].history == scheduler.schedules["lr"][0].history
    assert resumed.state_dict() == state


def test_amend_twice_and_by_epochs():
    optimizer = make_optimizer()
    scheduler = ScheduleLR(optimizer, "constant()", steps_per_epoch=10, total="10ep")
    seen = lrs(optimizer, scheduler, 20)
    scheduler.amend("0.5 * constant()", at="2ep")
    seen += lrs(optimizer, scheduler, 20)
    scheduler.amend("linear(end=0)")
    seen += lrs(optimizer, scheduler, 60)
    by_hand = "((constant() for 100) for 2ep then 0.5 * constant() for 80) for 40 then linear(end=0)"
    sched = lrdsl.compile(by_hand, base=BASE, steps_per_epoch=10, total="10ep")
    assert seen == [sched(k) for k in range(100)]
    assert len(scheduler.state_dict()["history"]["lr"][0]) == 2


def test_amend_refuses_what_it_cannot_do():
    optimizer = make_optimizer()
    pending = ScheduleLR(optimizer, TEXT, total="auto")
    with pytest.raises(lrdsl.LRDSLError, match="not known yet"):
        pending.amend("linear()")
    both = ScheduleLR(
        torch.optim.SGD([torch.zeros(1)], lr=BASE, momentum=0.9), TEXT, total=20, hyperparameters={"momentum": "0.9"}
    )
    with pytest.raises(lrdsl.LRDSLError, match=r"also schedules \['momentum'\]"):
        both.amend("linear()", total=30)


# -- Lightning: Trainer.fit(ckpt_path=...) ---------------------------------------------------------

FIRST = "warmup(T=5) then exp(s=10, rate=0.5)"
SECOND = "warmup(T=5) then cosine(end=1e-4)"


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["error", "continue", "smooth", "checkpoint"])
def test_a_lightning_resume_with_another_schedule_follows_the_policy(tmp_path, policy):
    """One epoch (50 updates) with FIRST, checkpointed; then a second epoch resumed from the checkpoint
    with SECOND, the total given by the Trainer (100 updates) once the checkpoint is restored."""
    pytest.importorskip("lightning")
    from lrdsl.bridges.lightning import LRDSLCallback
    from test_bridge_lightning_clock import Module, fit

    class Run(Module):
        def __init__(self, text, on_change="error"):
            super().__init__(follow=True)
            self.text, self.on_change = text, on_change

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=BASE)
            scheduler = ScheduleLR(optimizer, self.text, total="auto", follow_optimizer=True, on_change=self.on_change)
            return {"optimizer": optimizer, "lr_scheduler": scheduler.lightning_config()}

    first = fit(tmp_path, Run(FIRST), [LRDSLCallback()], max_epochs=1)
    path = tmp_path / "first.ckpt"
    first.save_checkpoint(path)
    resumed = Run(SECOND, policy)
    if policy == "error":
        with pytest.raises(lrdsl.LRDSLError, match=r"(?s)expression +saved: 'warmup\(T=5\) then exp.*total +saved: 50"):
            fit(tmp_path, resumed, [LRDSLCallback()], ckpt_path=path)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScheduleChangeWarning)
        fit(tmp_path, resumed, [LRDSLCallback()], ckpt_path=path)
    by_hand = {
        "continue": (SECOND, 100),
        "smooth": ("(warmup(T=5) then exp(s=10, rate=0.5) for 45) for 50 then cosine(end=1e-4)", 100),
        "checkpoint": (FIRST, 50),
    }[policy]
    assert resumed.lrs == expected(*by_hand, range(50, 100))
