"""Lightning: total="auto" resolved by LRDSLCallback from the Trainer's own count of updates, with
accumulate_grad_batches=4, a real Trainer, and the learning rate of every update checked against
``lrdsl.compile(...)(k)``."""

import warnings

import pytest

torch = pytest.importorskip("torch")
lightning = pytest.importorskip("lightning")

import lrdsl
from lrdsl.bridges.lightning import LRDSLCallback
from lrdsl.bridges.torch import ScheduleLR

TEXT = "warmup(5%) then cosine(end=1e-4)"
BATCHES, WINDOW, EPOCHS = 198, 4, 2  # 49 full windows and one of 2 batches: 50 updates an epoch, 100 in all


class Module(lightning.LightningModule):
    def __init__(self, follow):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)
        self.follow = follow
        self.lrs = []  # the lr of every update, read just before it runs

    def training_step(self, batch, index):
        return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

    def on_before_optimizer_step(self, optimizer):
        self.lrs.append(optimizer.param_groups[0]["lr"])

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        scheduler = ScheduleLR(optimizer, TEXT, total="auto", follow_optimizer=self.follow)
        return {"optimizer": optimizer, "lr_scheduler": scheduler.lightning_config()}


def fit(tmp_path, module, callbacks, max_epochs=EPOCHS, ckpt_path=None):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(BATCHES, 2, 4, generator=generator)
    loader = torch.utils.data.DataLoader(list(zip(x, x.sum(-1, keepdim=True))), batch_size=None)
    trainer = lightning.Trainer(
        max_epochs=max_epochs,
        accumulate_grad_batches=WINDOW,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=callbacks,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on workers and logging
        trainer.fit(module, loader, ckpt_path=ckpt_path)
    return trainer


@pytest.mark.slow
@pytest.mark.parametrize("follow", [False, True])
def test_total_auto_is_the_trainers_number_of_updates(tmp_path, follow):
    module = Module(follow)
    trainer = fit(tmp_path, module, [LRDSLCallback()])
    total = trainer.estimated_stepping_batches
    assert total == len(module.lrs) == 100  # every update the Trainer made, and no more
    assert total == lrdsl.steps(dataset_size=BATCHES, batch_size=1, epochs=EPOCHS, accumulate=WINDOW)["total"]
    (config,) = trainer.lr_scheduler_configs
    assert config.scheduler.state_dict()["total"] == 100 and config.scheduler.last_epoch == 100
    expected = lrdsl.compile(TEXT, base=0.1, total=total)
    assert module.lrs == [expected(k) for k in range(total)]
    assert module.lrs[:6] == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08, 0.1])  # 5% of the 100 updates
    assert module.lrs[-1] == expected(99) and module.lrs[-1] < 1e-3  # the last update: the schedule's end


@pytest.mark.slow
def test_an_epoch_interval_takes_max_epochs(tmp_path):
    class ByEpoch(Module):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            scheduler = ScheduleLR(optimizer, "warmup(50%) then exp(s=1ep, rate=0.5)", total="auto", interval="epoch")
            return {"optimizer": optimizer, "lr_scheduler": scheduler.lightning_config()}

    module = ByEpoch(follow=False)
    fit(tmp_path, module, [LRDSLCallback()])  # 2 epochs of 50 updates
    expected = lrdsl.compile("warmup(50%) then exp(s=1ep, rate=0.5)", base=0.1, total=f"{EPOCHS}ep")
    assert module.lrs == [expected(epoch=epoch) for epoch in (0, 1) for _ in range(50)] == [0.0] * 50 + [0.1] * 50


@pytest.mark.slow
def test_without_the_callback_the_first_update_names_the_routes(tmp_path):
    with pytest.raises(lrdsl.LRDSLError, match=r"before the training length was known.*lightning\.LRDSLCallback"):
        fit(tmp_path, Module(follow=True), [])
