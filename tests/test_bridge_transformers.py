"""HF transformers: a real Trainer on a tiny randomly initialised GPT-2 (built from a config, no
download, CPU). The schedule's % resolves against the Trainer's own number of update steps, and the
learning rate of every update, and the one the Trainer logs, is ``lrdsl.compile(...)(k)``."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.torch import ScheduleLR
from lrdsl.bridges.transformers import LRDSLCallback, LRDSLTrainer

TEXT = "warmup(20%) then cosine(end=1e-5)"


class Tokens(torch.utils.data.Dataset):
    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        ids = torch.randint(0, 32, (8,), generator=torch.Generator().manual_seed(index))
        return {"input_ids": ids, "labels": ids}


class Seen(transformers.TrainerCallback):
    """The lr of every update, read just before the optimizer steps."""

    def __init__(self):
        self.lrs = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


def tiny_model():
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=1, n_head=2, n_embd=8, vocab_size=32, n_positions=16, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


def arguments(tmp_path, **options):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        **options,
    )


def check(trainer, seen, updates):
    """Every update used sched(k), the Trainer logged it, and the Trainer made ``updates`` of them."""
    expected = lrdsl.compile(TEXT, base=1e-3, total=updates)
    assert trainer.state.max_steps == trainer.state.global_step == len(seen.lrs) == updates
    assert seen.lrs == [expected(k) for k in range(updates)]
    logged = [
        (entry["step"], entry["learning_rate"]) for entry in trainer.state.log_history if "learning_rate" in entry
    ]
    assert logged == [(k + 1, expected(k)) for k in range(updates)]  # logged after update k: the lr it used
    assert seen.lrs[-1] == expected(updates - 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, updates",
    [
        # 11 examples in batches of 2: 6 batches an epoch, windows of 4: 2 updates (a partial last window)
        (dict(num_train_epochs=5, gradient_accumulation_steps=4), 10),
        (dict(max_steps=7, gradient_accumulation_steps=2), 7),
    ],
)
def test_lrdsl_trainer_takes_the_trainers_number_of_updates(tmp_path, options, updates):
    seen = Seen()
    trainer = LRDSLTrainer(
        model=tiny_model(),
        args=arguments(tmp_path, **options),
        train_dataset=Tokens(11),
        callbacks=[seen],
        lr_schedule=TEXT,
    )
    trainer.train()
    assert isinstance(trainer.lr_scheduler, ScheduleLR)
    assert trainer.lr_scheduler.state_dict()["total"] == updates
    check(trainer, seen, updates)


@pytest.mark.slow
def test_the_callback_resolves_a_scheduler_given_to_a_plain_trainer(tmp_path):
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = ScheduleLR(optimizer, TEXT, total="auto")
    seen = Seen()
    trainer = transformers.Trainer(
        model=model,
        args=arguments(tmp_path, num_train_epochs=5, gradient_accumulation_steps=4),
        train_dataset=Tokens(11),
        optimizers=(optimizer, scheduler),
        callbacks=[seen, LRDSLCallback()],
    )
    trainer.train()
    check(trainer, seen, 10)


def test_lrdsl_trainer_refuses_two_schedules_and_a_total(tmp_path):
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = ScheduleLR(optimizer, TEXT, total=10)
    with pytest.raises(BridgeError, match="not both"):
        LRDSLTrainer(model=model, args=arguments(tmp_path), optimizers=(optimizer, scheduler), lr_schedule=TEXT)
    with pytest.raises(BridgeError, match="leave it out"):
        LRDSLTrainer(model=model, args=arguments(tmp_path), lr_schedule=TEXT, lr_schedule_options={"total": 5})
